%%% @doc The distribution controller of one connection: it owns the socket
%%% during the handshake, and is what the VM knows as the connection's
%%% controller afterwards (the sender).
%%%
%%% The processes of one connection, all linked, none trapping exits, so
%%% that any one dying takes the whole connection down (and the VM drops
%%% the connection when its controller dies):
%%%
%%% - connection supervisor ("ticker"): `dist_util''s process, spawned by
%%%   `setup'/`accept_connection'. Runs the handshake through the
%%%   `#hs_data{}' funs, then ticks and watches the socket's counters.
%%%   net_kernel links to it and learns of nodedown through it.
%%% - controller/sender (this module, then `erldist_filter_dist_output'):
%%%   performs every handshake send/recv on behalf of the ticker (watching
%%%   them to learn the negotiated flags), then moves VM output to the
%%%   socket and writes ticks. Linked to the ticker (`supervise/2').
%%% - receiver (`erldist_filter_dist_input'): owns the socket after the
%%%   handshake, pushes inbound bytes through the filter NIF into the VM.
%%%   Spawned linked by the controller; also links the ticker directly.
%%%
%%% On the accept side the acceptor (`erldist_filter_dist_tcp:accept_loop')
%%% spawns the controller before any ticker exists, hence the separate
%%% `supervise/2' step; the acceptor itself is linked to net_kernel only.
%%% @hidden Part of the filtering carrier, not an API.
-module(erldist_filter_dist_ctrl).

-export([start/3]).
-export([supervise/2]).
-export([socket/1]).
-export([handshake_send/2]).
-export([handshake_recv/3]).
-export([handshake_complete_fun/2]).
-export([tick/1]).

%% Spawned entry point.
-export([init/3]).

-record(ctrl, {driver :: driver(),
               socket :: socket(),
               ticker = undefined :: undefined | pid(),
               handshake :: erldist_filter_dist_handshake:state()}).

%% A TCP socket with kernel's driver for its family, or a TLS socket with
%% `erldist_filter_dist_ssl' (which offers the same calls).
-type driver() :: erldist_filter_dist_tcp:driver() | erldist_filter_dist_ssl.
-type socket() :: port() | ssl:sslsocket().
-export_type([driver/0, socket/0]).

%% Off-heap queues and eager full sweeps: the processes hold almost no live
%% data, and signal binaries must not linger on their heaps.
-define(SPAWN_OPTS, [{message_queue_data, off_heap}, {fullsweep_after, 0}]).

%% @doc Spawn the controller for a freshly connected/accepted socket. The
%% caller then makes it the socket's controlling process. It runs at max
%% priority until the handshake is over, as the ticker does.
-spec start(driver(), socket(), erldist_filter_dist_handshake:role()) ->
    pid().
start(Driver, Socket, Role) ->
    spawn_opt(?MODULE, init, [Driver, Socket, Role], [{priority, max} | ?SPAWN_OPTS]).

%% @doc Link the controller to the connection supervisor.
-spec supervise(pid(), pid()) -> ok.
supervise(Ctrl, Ticker) ->
    call(Ctrl, {supervise, Ticker}).

%% @doc The socket the controller owns.
-spec socket(pid()) -> socket().
socket(Ctrl) ->
    call(Ctrl, socket).

%% @doc `f_send' for `dist_util'.
-spec handshake_send(pid(), iodata()) -> ok | {error, term()}.
handshake_send(Ctrl, Packet) ->
    call(Ctrl, {send, Packet}).

%% @doc `f_recv' for `dist_util' (which wants lists).
-spec handshake_recv(pid(), non_neg_integer(), timeout()) -> {ok, string()} | {error, term()}.
handshake_recv(Ctrl, Length, Timeout) ->
    case call(Ctrl, {recv, Length, Timeout}) of
        {ok, Bin} when is_binary(Bin) -> {ok, binary_to_list(Bin)};
        Other -> Other
    end.

%% @doc `f_handshake_complete' for `dist_util': start the data phase, after
%% `Before(Node)'. From OTP 29 `dist_util' calls it with a fourth argument
%% holding the negotiated flags and the peer's creation, which the
%% controller then takes as they are; older releases call it with three,
%% and the controller uses what it learnt by watching the handshake.
-spec handshake_complete_fun(pid(), fun((node()) -> ok)) -> function().
handshake_complete_fun(Ctrl, Before) ->
    case list_to_integer(erlang:system_info(otp_release)) >= 29 of
        true ->
            fun(C, Node, DHandle, #{flags := Flags, creation := Creation}) when C =:= Ctrl ->
                    ok = Before(Node),
                    call(Ctrl, {handshake_complete, Node, DHandle, {ok, Flags, Creation}})
            end;
        false ->
            fun(C, Node, DHandle) when C =:= Ctrl ->
                    ok = Before(Node),
                    call(Ctrl, {handshake_complete, Node, DHandle, observed})
            end
    end.

%% @doc `mf_tick' for `dist_util': the sender writes the tick, so the
%% ticker never blocks on a busy socket.
-spec tick(pid()) -> tick.
tick(Ctrl) ->
    Ctrl ! tick.

%% A request to the controller, failing like a dead socket if it is gone.
call(Ctrl, Request) ->
    Ref = erlang:monitor(process, Ctrl),
    Ctrl ! {Ref, self(), Request},
    receive
        {Ref, Reply} ->
            erlang:demonitor(Ref, [flush]),
            Reply;
        {'DOWN', Ref, process, Ctrl, Reason} ->
            exit({dist_controller_exit, Reason})
    end.

%%% The process

%% @private
-spec init(driver(), socket(), erldist_filter_dist_handshake:role()) ->
    no_return().
init(Driver, Socket, Role) ->
    handshake_loop(#ctrl{driver = Driver, socket = Socket,
                         handshake = erldist_filter_dist_handshake:new(Role)}).

%% The socket stays passive throughout, so nothing arrives unasked.
handshake_loop(State = #ctrl{driver = Driver, socket = Socket, handshake = HS}) ->
    receive
        {Ref, From, {supervise, Ticker}} ->
            true = link(Ticker),
            From ! {Ref, ok},
            handshake_loop(State#ctrl{ticker = Ticker});
        {Ref, From, socket} ->
            From ! {Ref, Socket},
            handshake_loop(State);
        {Ref, From, {send, Packet}} ->
            HS1 = erldist_filter_dist_handshake:sent(Packet, HS),
            From ! {Ref, Driver:send(Socket, Packet)},
            handshake_loop(State#ctrl{handshake = HS1});
        {Ref, From, {recv, Length, Timeout}} ->
            case Driver:recv(Socket, Length, Timeout) of
                {ok, Data} ->
                    HS1 = erldist_filter_dist_handshake:received(Data, HS),
                    From ! {Ref, {ok, Data}},
                    handshake_loop(State#ctrl{handshake = HS1});
                Error ->
                    From ! {Ref, Error},
                    handshake_loop(State)
            end;
        {Ref, From, {handshake_complete, Node, DHandle, Negotiated}} ->
            start_data_phase(State, Node, DHandle, Negotiated),
            From ! {Ref, ok},
            process_flag(priority, normal),
            erldist_filter_dist_output:loop(Driver, Socket, DHandle)
    end.

%% Hand the socket to a new receiver that has already opened its NIF
%% channel, register it as the input handler, then let it read.
start_data_phase(#ctrl{driver = Driver, socket = Socket, ticker = Ticker,
                       handshake = HS}, Node, DHandle, Negotiated) ->
    {ok, Flags, Creation} =
        case Negotiated of
            {ok, _, _} -> Negotiated;
            observed -> observed(HS, Node)
        end,
    Opened = #{node => Node, dhandle => DHandle, flags => Flags,
               creation => Creation, connection_id => connection_id(DHandle),
               socket => Socket, driver => Driver, ticker => Ticker},
    Input = spawn_opt(erldist_filter_dist_input, init, [self(), Opened],
                      [link | ?SPAWN_OPTS]),
    receive {Input, channel_open} -> ok end,
    ok = Driver:controlling_process(Socket, Input),
    ok = erlang:dist_ctrl_input_handler(DHandle, Input),
    Input ! {self(), input_handler},
    ok.

observed(HS, Node) ->
    case erldist_filter_dist_handshake:negotiated(HS) of
        {ok, _, _} = Negotiated -> Negotiated;
        {error, incomplete} -> exit({handshake_not_observed, Node})
    end.

%% OTP 25's dist handle is `{ConnectionId, DistEntryRef}'; it is opaque, so
%% fall back to 0 if that ever changes.
connection_id(DHandle) when is_tuple(DHandle), tuple_size(DHandle) >= 1,
                            is_integer(element(1, DHandle)),
                            element(1, DHandle) >= 0 ->
    element(1, DHandle);
connection_id(_DHandle) ->
    0.

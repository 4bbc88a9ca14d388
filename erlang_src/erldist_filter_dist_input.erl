%%% The receiver: the only path from the socket into the VM.
%%%
%%% It owns the socket after the handshake and reads it in `{active, N}'
%%% mode, so a VM that cannot keep up stops reading and TCP pushes back on
%%% the peer. Every chunk of bytes goes through the connection's filter
%%% channel (`erldist_filter_nif:channel_recv/2'), which frames it (4-byte
%%% lengths, zero-length packets are ticks) and returns the frames to
%%% deliver, in order, with `erlang:dist_ctrl_put_data/2'.
%%% A channel error or exception closes this one connection and is logged.
%%% With `{bypass_filter, true}' in the application environment (benchmarks
%%% only, see `erldist_filter_env') there is no channel: packets are cut out
%%% in Erlang and delivered unfiltered, the carrier's own floor.
%%% (The process is described with its siblings in `erldist_filter_dist_ctrl'.)
-module(erldist_filter_dist_input).

-include_lib("kernel/include/logger.hrl").

%% Spawned entry point.
-export([init/2]).

%% Messages the socket may send us before we must re-arm it: enough to
%% keep the pipe full, few enough to bound what queues up unread.
-define(ACTIVE_N, 16).

-record(input, {node :: node(),
                dhandle :: erlang:dist_handle(),
                socket :: port(),
                channel :: term() | bypass,
                buffer = <<>> :: binary(),
                active :: non_neg_integer()}).

%% @private
%% The controller spawns us linked; we open the channel (we become its
%% owner), report back, and start reading once the controller has handed
%% us the socket and registered us as the input handler.
-spec init(pid(), map()) -> no_return().
init(Ctrl, #{node := Node, dhandle := DHandle, flags := Flags, creation := Creation,
             connection_id := ConnectionId, socket := Socket, ticker := Ticker}) ->
    true = link(Ticker),
    Channel = case erldist_filter_env:bypass_filter() of
                  true -> bypass;
                  false -> open_channel(Node, Creation, ConnectionId, Flags)
              end,
    Ctrl ! {self(), channel_open},
    receive {Ctrl, input_handler} -> ok end,
    State = #input{node = Node, dhandle = DHandle, socket = Socket,
                   channel = Channel, active = 0},
    loop(rearm(State)).

open_channel(Node, Creation, ConnectionId, Flags) ->
    try
        erldist_filter_nif:channel_open(4, Node, Creation, ConnectionId, Flags)
    catch
        Class:Reason ->
            fail(Node, undefined, channel_open, {Class, Reason})
    end.

loop(State = #input{socket = Socket}) ->
    receive
        {tcp, Socket, Data} ->
            State1 = deliver(State, Data),
            loop(rearm(State1#input{active = State#input.active - 1}));
        {tcp_passive, Socket} ->
            loop(rearm(State#input{active = 0}));
        {tcp_closed, Socket} ->
            stop(State, connection_closed);
        {tcp_error, Socket, Reason} ->
            stop(State, {tcp_error, Reason});
        _Garbage ->
            loop(State)
    end.

%% `{active, N}' adds to the socket's count; top it up at half.
rearm(State = #input{socket = Socket, active = Active}) when Active =< ?ACTIVE_N div 2 ->
    case inet:setopts(Socket, [{active, ?ACTIVE_N - Active}]) of
        ok -> State#input{active = ?ACTIVE_N};
        {error, Reason} -> stop(State, {setopts, Reason})
    end;
rearm(State) ->
    State.

deliver(State = #input{channel = bypass, buffer = Buffer}, Data) ->
    Input = case Buffer of
                <<>> -> Data;
                _ -> <<Buffer/binary, Data/binary>>
            end,
    State#input{buffer = put_packets(State, Input)};
deliver(State = #input{node = Node, channel = Channel, dhandle = DHandle}, Data) ->
    try erldist_filter_nif:channel_recv(Channel, [Data]) of
        Actions when is_list(Actions) ->
            put_data(State, DHandle, Actions),
            State;
        {error, Reason} ->
            fail(Node, Channel, channel_recv, Reason)
    catch
        %% The NIF's exceptions say what was wrong and where in the input;
        %% its stack trace would only name the NIF.
        Class:Reason ->
            fail(Node, Channel, channel_recv, {Class, Reason})
    end.

put_data(State, DHandle, [{emit, Frame} | Actions]) ->
    try erlang:dist_ctrl_put_data(DHandle, Frame) of
        ok -> put_data(State, DHandle, Actions)
    catch
        %% The VM refuses data once the connection is going down; the
        %% linked processes are about to take us down anyway.
        error:_ -> stop(State, connection_closed)
    end;
put_data(_State, _DHandle, []) ->
    ok.

%% Bypass: deliver every whole packet but ticks; the partial rest waits.
put_packets(State, <<0:32, Rest/binary>>) ->
    put_packets(State, Rest);
put_packets(State = #input{dhandle = DHandle}, <<Len:32, Frame:Len/binary, Rest/binary>>) ->
    put_data(State, DHandle, [{emit, Frame}]),
    put_packets(State, Rest);
put_packets(_State, Rest) ->
    Rest.

%% The filter refused the traffic (or failed): this connection is done.
fail(Node, Channel, Operation, Reason) ->
    ?LOG_WARNING(#{what => erldist_filter_closed_connection, node => Node,
                   operation => Operation, reason => Reason},
                 #{domain => [erldist_filter]}),
    close(Channel),
    exit({erldist_filter, Operation, Reason}).

stop(#input{channel = bypass}, Reason) ->
    exit(Reason);
stop(#input{channel = Channel}, Reason) ->
    close(Channel),
    exit(Reason).

%% The NIF also closes a channel whose owner dies; closing here frees its
%% buffers without waiting for that.
close(undefined) ->
    ok;
close(Channel) ->
    _ = (catch erldist_filter_nif:channel_close(Channel)),
    ok.

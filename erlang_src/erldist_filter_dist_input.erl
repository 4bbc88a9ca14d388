%%% @doc The receiver: the only path from the socket into the VM.
%%%
%%% It owns the socket after the handshake and reads it in `{active, N}'
%%% mode, so a VM that cannot keep up stops reading and TCP pushes back on
%%% the peer. Over TLS the socket is an `ssl' one and its messages are
%%% `ssl''s; the bytes are the decrypted stream. Every chunk of bytes goes through the connection's filter
%%% channel (`erldist_filter_nif:channel_recv_nif/2', one bounded slice at
%%% a time), which frames it (4-byte lengths, zero-length packets are
%%% ticks) and returns the frames to deliver, in order, with
%%% `erlang:dist_ctrl_put_data/2'. Each slice's frames are delivered before
%%% the next slice runs, so a large read (or a message re-emitted as
%%% 200,000 fragments) never piles up here.
%%% A channel error or exception closes this one connection and is logged.
%%% When the VM itself closes the connection after a frame the filter let
%%% through (without inspection the filter reads a message only as far as
%%% its rules need; the VM reads it all), the receiver re-reads the frames
%%% it delivered last (`erldist_filter_nif:channel_check_frame/2') and logs
%%% which one the VM refused and why, with the node's name, which the VM's
%%% own "Invalid distribution message" report lacks.
%%% With `{bypass_filter, true}' in the application environment (benchmarks
%%% only, see `erldist_filter_env') there is no channel: packets are cut out
%%% in Erlang and delivered unfiltered, the carrier's own floor.
%%% (The process is described with its siblings in `erldist_filter_dist_ctrl'.)
%%% @hidden Part of the filtering carrier, not an API.
-module(erldist_filter_dist_input).

-include_lib("kernel/include/logger.hrl").

%% Spawned entry point.
-export([init/2]).

%% Messages the socket may send us before we must re-arm it: enough to
%% keep the pipe full, few enough to bound what queues up unread.
-define(ACTIVE_N, 16).

-record(input, {node :: node(),
                dhandle :: erlang:dist_handle(),
                socket :: port() | ssl:sslsocket(),
                channel :: term() | bypass,
                buffer = <<>> :: binary(),
                active :: non_neg_integer(),
                messages :: messages(),
                setopts :: fun((term(), list()) -> ok | {error, term()}),
                %% the actions of the last slice delivered (kept as
                %% returned: no work per packet), to explain a refusal
                last = [] :: [erldist_filter_nif:action()]}).

%% The tags of what an active socket sends its owner: data, passive,
%% closed, error.
-type messages() :: {atom(), atom(), atom(), atom()}.

%% @private
%% The controller spawns us linked; we open the channel (we become its
%% owner), report back, and start reading once the controller has handed
%% us the socket and registered us as the input handler.
-spec init(pid(), map()) -> no_return().
init(Ctrl, #{node := Node, dhandle := DHandle, flags := Flags, creation := Creation,
             connection_id := ConnectionId, socket := Socket, ticker := Ticker,
             driver := Driver}) ->
    true = link(Ticker),
    %% The controller's death reaches us as a message, so we can say why
    %% the VM closed the connection before we go.
    _ = process_flag(trap_exit, true),
    Channel = case erldist_filter_env:bypass_filter() of
                  true -> bypass;
                  false -> open_channel(Node, Creation, ConnectionId, Flags)
              end,
    Ctrl ! {self(), channel_open},
    receive {Ctrl, input_handler} -> ok end,
    {Messages, SetOpts} = transport(Driver),
    State = #input{node = Node, dhandle = DHandle, socket = Socket,
                   channel = Channel, active = 0, messages = Messages, setopts = SetOpts},
    loop(rearm(State)).

transport(erldist_filter_dist_ssl) ->
    {{ssl, ssl_passive, ssl_closed, ssl_error}, fun ssl:setopts/2};
transport(_TcpDriver) ->
    {{tcp, tcp_passive, tcp_closed, tcp_error}, fun inet:setopts/2}.

open_channel(Node, Creation, ConnectionId, Flags) ->
    %% Registrations send no notification: look again now (asynchronously;
    %% the last periodic set protects meanwhile).
    ok = erldist_filter_protected:refresh(),
    try
        erldist_filter_nif:channel_open(4, Node, Creation, ConnectionId, Flags)
    catch
        Class:Reason ->
            fail(Node, undefined, channel_open, {Class, Reason})
    end.

loop(State = #input{socket = Socket, messages = {Data, Passive, Closed, Error}}) ->
    receive
        {Data, Socket, Bytes} ->
            Delivered = deliver(State, Bytes),
            loop(rearm(Delivered#input{active = State#input.active - 1}));
        {Passive, Socket} ->
            %% Nothing to do: `active' counts the socket's own counter plus
            %% the data messages already in our mailbox, so it re-arms in
            %% time. (Resetting it here, with data queued behind this
            %% message, would make us add more than was used each time,
            %% until the socket's counter passes 32767 and setopts fails
            %% with einval: seen under load with large messages.)
            loop(State);
        {Closed, Socket} ->
            stop(State, connection_closed);
        {Error, Socket, Reason} ->
            stop(State, {Error, Reason});
        {'EXIT', _Linked, normal} ->
            %% as if we were not trapping exits
            loop(State);
        {'EXIT', _Linked, Reason} ->
            explain_refusal(State),
            stop(State, Reason);
        _Garbage ->
            loop(State)
    end.

%% `{active, N}' adds to the socket's count; top it up at half. Invariant:
%% `active' = the socket's counter + data messages sent to us and not yet
%% handled, so the socket's counter never exceeds ?ACTIVE_N.
rearm(State = #input{socket = Socket, active = Active, setopts = SetOpts})
  when Active =< ?ACTIVE_N div 2 ->
    case SetOpts(Socket, [{active, ?ACTIVE_N - Active}]) of
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
deliver(State, Data) ->
    deliver_slices(State, channel_recv_nif, [Data]).

%% `erldist_filter_nif:channel_recv/2', delivering each slice's frames as
%% they come instead of collecting them all first.
deliver_slices(State = #input{node = Node, channel = Channel, dhandle = DHandle}, Nif, Input) ->
    try erldist_filter_nif:Nif(Channel, Input) of
        Actions when is_list(Actions) ->
            put_slice(State, DHandle, Actions);
        {more, Actions, Rest} ->
            deliver_slices(put_slice(State, DHandle, Actions), channel_recv_nif, Rest);
        {dirty, Rest} ->
            %% the next step may finish a message over 1 MiB: do it where
            %% a long step cannot stall a normal scheduler
            deliver_slices(State, channel_recv_dirty_nif, Rest);
        {error, Reason} ->
            fail(Node, Channel, channel_recv, Reason)
    catch
        %% The NIF's exceptions say what was wrong and where in the input;
        %% its stack trace would only name the NIF.
        Class:Reason ->
            fail(Node, Channel, channel_recv, {Class, Reason})
    end.

put_slice(State, DHandle, Actions) ->
    Delivering = State#input{last = Actions},
    put_data(Delivering, DHandle, Actions),
    Delivering.

put_data(State, DHandle, [{emit, Frame} | Actions]) ->
    try erlang:dist_ctrl_put_data(DHandle, Frame) of
        ok -> put_data(State, DHandle, Actions)
    catch
        %% The VM refuses data once the connection is going down; the
        %% linked processes are about to take us down anyway.
        error:_ ->
            explain_refusal(State),
            stop(State, connection_closed)
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
    ok = erldist_filter_default_handler:early(),
    ?LOG_WARNING(#{what => erldist_filter_closed_connection, node => Node,
                   operation => Operation, reason => Reason},
                 #{domain => [erldist_filter]}),
    close(Channel),
    telemetry(Node, Reason),
    exit({erldist_filter, Operation, Reason}).

%% The connection went down: if a frame we delivered last does not read
%% cleanly to its end, the VM closed it for that frame; say so, with the
%% node and the reason, as for the filter's own refusals.
explain_refusal(#input{channel = bypass}) ->
    ok;
explain_refusal(#input{node = Node, channel = Channel, last = Actions}) ->
    Refusals = [R || {emit, F} <- Actions,
                     {error, {erldist_filter, _, _}} = R <- [check_frame(Channel, F)]],
    case Refusals of
        [Reason | _] ->
            ok = erldist_filter_default_handler:early(),
            ?LOG_WARNING(#{what => erldist_filter_closed_connection, node => Node,
                           operation => vm_put_data, reason => Reason},
                         #{domain => [erldist_filter]}),
            telemetry(Node, Reason);
        [] ->
            ok
    end.

%% The frame's refusal as `{error, Reason}' (the NIF raises it); anything
%% else (a clean frame, a channel already gone) is not a refusal.
check_frame(Channel, Frame) ->
    try erldist_filter_nif:channel_check_frame(Channel, Frame)
    catch error:Reason -> {error, Reason}
    end.

telemetry(Node, Reason) ->
    case Reason of
        {error, {erldist_filter, Limit, #{limit := true}}} ->
            erldist_filter_telemetry:execute([erldist_filter, limit, hit], #{count => 1},
                                             #{node => Node, limit => Limit, action => close});
        _ ->
            ok
    end,
    erldist_filter_telemetry:execute([erldist_filter, connection, closed], #{count => 1},
                                     #{node => Node, reason => Reason}).

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
    try erldist_filter_nif:channel_close(Channel)
    catch error:_ -> ok
    end,
    ok.

%%% @doc The sender: moves the VM's outgoing distribution data to the socket.
%%%
%%% Outbound traffic is not filtered, so this stays as lean as a process
%%% carrier allows: with `get_size' on, each `dist_ctrl_get_data/1' gives
%%% the frame's length and its iovec without flattening; frames are framed
%%% by hand (`<<Len:32>>') and written in batches of up to ~64 KiB with one
%%% `send' each. Ticks are written here too, between batches.
%%% (The process is described with its siblings in `erldist_filter_dist_ctrl'.)
%%% @hidden Part of the filtering carrier, not an API.
-module(erldist_filter_dist_output).

-export([loop/3]).

%% Stop adding frames to a batch once it holds this many bytes.
-define(BATCH_BYTES, 65536).

%% @doc Run the sender for the rest of the connection's life.
-spec loop(erldist_filter_dist_ctrl:driver(), erldist_filter_dist_ctrl:socket(),
           erlang:dist_handle()) -> no_return().
loop(Driver, Socket, DHandle) ->
    _Previous = erlang:dist_ctrl_set_opt(DHandle, get_size, true),
    ok = erlang:dist_ctrl_get_data_notification(DHandle),
    wait(Driver, Socket, DHandle).

wait(Driver, Socket, DHandle) ->
    receive
        dist_data ->
            drain(Driver, Socket, DHandle),
            %% Re-arm only after seeing `none': the VM then notifies again
            %% as soon as anything new is queued.
            ok = erlang:dist_ctrl_get_data_notification(DHandle),
            wait(Driver, Socket, DHandle);
        tick ->
            %% `force': a tick must not wait behind a busy port.
            send(Driver, Socket, <<0:32>>, [force]),
            wait(Driver, Socket, DHandle);
        _Garbage ->
            %% Only the VM and the ticker write here; anything else is
            %% noise and must not kill the connection.
            wait(Driver, Socket, DHandle)
    end.

drain(Driver, Socket, DHandle) ->
    case batch(DHandle, [], 0) of
        {done, []} ->
            ok;
        {done, IoList} ->
            send(Driver, Socket, IoList, []);
        {more, IoList} ->
            send(Driver, Socket, IoList, []),
            drain(Driver, Socket, DHandle)
    end.

batch(_DHandle, Acc, Bytes) when Bytes >= ?BATCH_BYTES ->
    {more, lists:reverse(Acc)};
batch(DHandle, Acc, Bytes) ->
    case erlang:dist_ctrl_get_data(DHandle) of
        none ->
            {done, lists:reverse(Acc)};
        {Size, Data} ->
            batch(DHandle, [Data, <<Size:32>> | Acc], Bytes + 4 + Size)
    end.

%% A failed write means the connection is gone; exiting takes the linked
%% ticker and receiver down with us.
send(Driver, Socket, IoData, Opts) ->
    case Driver:send(Socket, IoData, Opts) of
        ok -> ok;
        {error, Reason} -> exit({send_error, Reason})
    end.

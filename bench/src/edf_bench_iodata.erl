%% @doc What `erlang:dist_ctrl_put_data/2' does with iodata (a list of
%% binaries) instead of one binary, on the running OTP: whether it copies
%% the bytes into a new binary first, and what that costs for a 1 MiB
%% frame made of a small head and a sub-binary of a larger input (what a
%% rewritten frame or a packet spanning two reads would be as iodata).
%% See bench/README.md, "Copies on the emit path".
%%
%% A list is turned into a binary before the handle is even looked at
%% (dist.c: `is_list(BIF_ARG_2)' traps to `erts_internal:dist_ctrl_put_data/2',
%% which calls `erlang:iolist_to_binary/1'), so a handle that is not one
%% shows the copy without a connection: the call fails with badarg after
%% the copy for a list, at once for a binary.
%%
%% Run: `bash bench/run iodata' (OTP of the host), or in a root:
%% `erlc -o DIR bench/src/edf_bench_iodata.erl && erl -noshell -pa DIR
%%  -eval "edf_bench_iodata:main([]), halt()."'.
-module(edf_bench_iodata).

-export([main/1]).

-define(MiB, (1 bsl 20)).
-define(REPS, 200).

-spec main([string()]) -> ok.
main(_Args) ->
    Input = rand:bytes(?MiB + 4096),
    Head = binary:copy(<<131, $D, 0:64>>),
    Sub = binary:part(Input, 4096, ?MiB - byte_size(Head)),
    IoData = [Head, Sub],
    Frame = iolist_to_binary(IoData),
    Bogus = make_ref(),
    io:format("OTP ~s (erts ~s)~n", [erlang:system_info(otp_release), erlang:system_info(version)]),
    %% 1. the trap: which function turns the list into a binary
    Calls = traced_calls(fun() -> put_data(Bogus, IoData) end),
    io:format("iodata: calls traced ~p~n", [Calls]),
    io:format("binary: calls traced ~p~n", [traced_calls(fun() -> put_data(Bogus, Frame) end)]),
    %% 2. the copy: a new refc binary of the frame's size in the caller
    Fresh = fun(F) ->
                    Before = [Id || {Id, _, _} <- bins()],
                    F(),
                    [Size || {Id, Size, _} <- bins(), not lists:member(Id, Before)]
            end,
    io:format("iodata: new binaries in the caller ~p (bytes)~n", [Fresh(fun() -> put_data(Bogus, IoData) end)]),
    io:format("binary: new binaries in the caller ~p (bytes)~n", [Fresh(fun() -> put_data(Bogus, Frame) end)]),
    %% 3. the cost, per 1 MiB frame
    TIo = per_call(fun() -> put_data(Bogus, IoData) end),
    TBin = per_call(fun() -> put_data(Bogus, Frame) end),
    TCopy = per_call(fun() -> iolist_to_binary(IoData) end),
    io:format("per 1 MiB frame: iodata ~.1f us, binary ~.1f us, iolist_to_binary alone ~.1f us~n",
              [TIo, TBin, TCopy]),
    ok.

put_data(DHandle, Data) ->
    try erlang:dist_ctrl_put_data(DHandle, Data) of
        ok -> ok
    catch
        error:badarg -> badarg
    end.

%% The refc binaries the calling process references (a binary made by a
%% call stays listed until the process collects garbage).
bins() ->
    {binary, Bins} = process_info(self(), binary),
    Bins.

traced_calls(F) ->
    Self = self(),
    Tracer = spawn(fun() -> collect([]) end),
    1 = erlang:trace(Self, true, [call, {tracer, Tracer}]),
    _ = erlang:trace_pattern({erlang, iolist_to_binary, 1}, true, [global]),
    _ = erlang:trace_pattern({erts_internal, dist_ctrl_put_data, 2}, true, [local]),
    F(),
    1 = erlang:trace(Self, false, [call]),
    _ = erlang:trace_pattern({'_', '_', '_'}, false, [global]),
    _ = erlang:trace_pattern({'_', '_', '_'}, false, [local]),
    Tracer ! {done, Self},
    receive {Tracer, Calls} -> Calls after 5000 -> timeout end.

collect(Acc) ->
    receive
        {trace, _, call, {M, F, Args}} -> collect([{M, F, length(Args)} | Acc]);
        {done, From} -> From ! {self(), lists:reverse(Acc)}
    end.

per_call(F) ->
    F(),
    {T, ok} = timer:tc(fun() -> loop(F, ?REPS) end),
    T / ?REPS.

loop(_F, 0) -> ok;
loop(F, N) -> _ = F(), loop(F, N - 1).

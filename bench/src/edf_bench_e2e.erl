%% @doc End-to-end benchmark: two local peer nodes over loopback, node `a'
%% sending to node `b', for each carrier in `carriers/0':
%% <ul>
%% <li>`small': small messages/s (one sender, one counting sink);</li>
%% <li>`large': MB/s of 1 MiB binaries (each one 16 fragments);</li>
%% <li>`call': `gen_server:call/2' round trips/s (one client).</li>
%% </ul>
%% All four pairs of nodes run at once and the passes are interleaved
%% (every carrier, then the next pass), so load from elsewhere on the
%% machine hits them alike. Reported: the median over the passes, and
%% ratios against plain `inet_tcp' and against the carrier with the filter
%% bypassed (its own floor), and the receiving node's memory (VM total and
%% RSS) after the first and the last pass, to show growth over long runs.
%%
%% Run: `bash bench/run e2e [Passes] [Scale]' (Scale multiplies the
%% message counts; default 1 = 200,000 small, 200 large, 20,000 calls).
-module(edf_bench_e2e).

-export([main/1]).
-export([rates/2]).
%% Run on the peers.
-export([sink/0]).
-export([small/3]).
-export([large/3]).
-export([calls/2]).
-export([memory/0]).

-define(SMALL, 200000).
-define(LARGE, 200).
-define(CALLS, 20000).
-define(LARGE_BYTES, 1048576).

%% Name, `edf_test_peer' carrier, extra arguments, switches set on both nodes.
carriers() ->
    [{"inet_tcp", stock_inet, [], none},
     {"filter bypassed", filter_inet, ["-erldist_filter", "bypass_filter", "true"], none},
     {"filter dpi_off", filter_inet, [], #{deep_packet_inspection => false}},
     {"filter dpi_on", filter_inet, [], #{deep_packet_inspection => true}},
     %% What the safe policy runs: inspection and the atom guard (`close').
     {"filter dpi+guard", filter_inet, ["-erldist_filter", "limits", "[{max_new_atoms, 10000}]"],
      #{deep_packet_inspection => true}}].

-spec main([string()]) -> ok.
main(Args) ->
    [Passes, Scale] = [list_to_integer(A) || A <- Args] ++ lists:nthtail(length(Args), [5, 1]),
    _ = rates(Passes, Scale),
    ok.

%% @doc Run `Passes' interleaved passes at `Scale', print the report, and
%% return each carrier's median rates `{SmallMsgPerS, LargeMBPerS, CallsPerS}'.
-spec rates(pos_integer(), pos_integer()) -> #{string() => {float(), float(), float()}}.
rates(Passes, Scale) ->
    Counts = #{small => ?SMALL * Scale, large => ?LARGE * Scale, call => ?CALLS * Scale},
    Setups = [setup(C) || C <- carriers()],
    try
        Runs = [[{Name, run(Setup, Counts)} || Setup = #{name := Name} <- Setups]
                || _ <- lists:seq(1, Passes)],
        [check(Setup) || Setup <- Setups],
        report(Passes, Counts, [Name || {Name, _, _, _} <- carriers()], lists:append(Runs))
    after
        [edf_test_peer:stop_all(Ps) || #{peers := Ps} <- Setups]
    end.

%% Two peers, connected, a sink and an echo server on `b'.
setup({Name, Carrier, Args, Config}) ->
    Opts = #{carrier => Carrier, args => Args, cookie => edf_bench},
    {ok, A = #{node := NodeA}} = edf_test_peer:start(Opts#{prefix => "edf_bench_a"}),
    {ok, B = #{node := NodeB}} = edf_test_peer:start(Opts#{prefix => "edf_bench_b"}),
    [ok = peer:call(P, erldist_filter_nif, config_set, [Config]) || Config =/= none, #{pid := P} <- [A, B]],
    true = peer:call(maps:get(pid, A), net_kernel, connect_node, [NodeB]),
    Sink = peer:call(maps:get(pid, B), erlang, spawn, [?MODULE, sink, []]),
    Echo = peer:call(maps:get(pid, B), edf_bench_echo, start, []),
    io:format("~-16s ~s -> ~s~n", [Name, NodeA, NodeB]),
    #{name => Name, carrier => Carrier, args => Args, peers => [A, B], a => maps:get(pid, A),
      b => maps:get(pid, B), sink => Sink, echo => Echo}.

%% One pass of every workload; microseconds each.
run(#{a := A, b := B, sink := Sink, echo := Echo}, #{small := NS, large := NL, call := NC}) ->
    Timeout = 600000,
    #{small => peer:call(A, ?MODULE, small, [Sink, NS, {small, 12345, <<"0123456789">>}], Timeout),
      large => peer:call(A, ?MODULE, large, [Sink, NL, ?LARGE_BYTES], Timeout),
      call => peer:call(A, ?MODULE, calls, [Echo, NC], Timeout),
      memory => peer:call(B, ?MODULE, memory, [])}.

%% @private The VM's own total and the process RSS, in bytes.
-spec memory() -> {non_neg_integer(), non_neg_integer()}.
memory() ->
    garbage_collect(),
    {ok, Statm} = file:read_file("/proc/self/statm"),
    [_Size, Resident | _] = binary:split(Statm, <<" ">>, [global]),
    {erlang:memory(total), binary_to_integer(Resident) * 4096}.

%% The filter really ran (or really did not) on `b'.
check(#{name := Name, carrier := Carrier, args := Args, b := B}) ->
    Channels = length(peer:call(B, erldist_filter_nif, channel_list, [])),
    Expected = case {Carrier, Args} of
                   {filter_inet, ["-erldist_filter", "bypass_filter" | _]} -> 0;
                   {filter_inet, _} -> 1;
                   _ -> 0
               end,
    Expected =:= Channels orelse error({channels, Name, Channels}).

report(Passes, Counts, Names, Runs) ->
    #{small := NS, large := NL, call := NC} = Counts,
    io:format("~ne2e: median of ~b passes (a -> b over loopback)~n", [Passes]),
    io:format("~-16s ~12s ~10s ~12s | ~20s | ~20s~n",
              ["carrier", "small msg/s", "large MB/s", "calls/s", "x inet_tcp s/l/c",
               "x bypassed s/l/c"]),
    Rate = fun(Name) ->
                   Us = fun(K) -> median([maps:get(K, R) || {N, R} <- Runs, N =:= Name]) end,
                   {NS / Us(small) * 1.0e6, NL * ?LARGE_BYTES / Us(large), NC / Us(call) * 1.0e6}
           end,
    Plain = Rate("inet_tcp"),
    Floor = Rate("filter bypassed"),
    lists:foreach(
      fun(Name) ->
              {S, L, C} = R = Rate(Name),
              io:format("~-16s ~12b ~10.1f ~12b | ~20s | ~20s~n",
                        [Name, round(S), L, round(C), ratios(R, Plain), ratios(R, Floor)])
      end, Names),
    io:format("~nmemory of b after the first / last pass (MB)~n"),
    lists:foreach(
      fun(Name) ->
              Mems = [maps:get(memory, R) || {N, R} <- Runs, N =:= Name],
              {{V0, R0}, {V1, R1}} = {hd(Mems), lists:last(Mems)},
              io:format("~-16s VM ~.1f -> ~.1f   RSS ~.1f -> ~.1f~n",
                        [Name, V0 / 1.0e6, V1 / 1.0e6, R0 / 1.0e6, R1 / 1.0e6])
      end, Names),
    maps:from_list([{Name, Rate(Name)} || Name <- Names]).

ratios({S, L, C}, {S0, L0, C0}) ->
    io_lib:format("~.2f/~.2f/~.2f", [S / S0, L / L0, C / C0]).

median(Xs) ->
    lists:nth((length(Xs) + 1) div 2, lists:sort(Xs)).

%%% On the peers

%% @private Count messages; `{done, From}' answers the count and resets.
-spec sink() -> no_return().
sink() ->
    sink(0).

sink(N) ->
    receive
        {done, From} ->
            From ! {counted, N},
            sink(0);
        _ ->
            sink(N + 1)
    end.

%% @private Send `N' copies of `Msg' to `Sink'; microseconds until the sink
%% has counted them all.
-spec small(pid(), pos_integer(), term()) -> non_neg_integer().
small(Sink, N, Msg) ->
    timed(Sink, N, fun() -> send_n(Sink, N, Msg) end).

%% @private As `small/3' with a fresh binary of `Bytes' each time.
-spec large(pid(), pos_integer(), pos_integer()) -> non_neg_integer().
large(Sink, N, Bytes) ->
    Bin = rand:bytes(Bytes),
    timed(Sink, N, fun() -> send_n(Sink, N, Bin) end).

timed(Sink, N, Send) ->
    T0 = erlang:monotonic_time(microsecond),
    Send(),
    Sink ! {done, self()},
    receive {counted, Got} -> Got =:= N orelse error({lost, N - Got}) end,
    erlang:monotonic_time(microsecond) - T0.

send_n(_Sink, 0, _Msg) ->
    ok;
send_n(Sink, N, Msg) ->
    Sink ! Msg,
    send_n(Sink, N - 1, Msg).

%% @private `N' sequential calls; microseconds.
-spec calls(pid(), pos_integer()) -> non_neg_integer().
calls(Server, N) ->
    T0 = erlang:monotonic_time(microsecond),
    ok = call_n(Server, N),
    erlang:monotonic_time(microsecond) - T0.

call_n(_Server, 0) ->
    ok;
call_n(Server, N) ->
    N = gen_server:call(Server, N),
    call_n(Server, N - 1).

%%% Budgeted remote spawns (`erldist_filter_budget'), between real peers:
%%% A calls, B is the victim. Both run the filtering carrier with deep
%%% packet inspection on and no handler, so every spawn request from A runs
%%% through `edf:req/3' on B, under the budget B's application environment
%%% (`spawn_budget') gives it. B's budget warnings are collected by a
%%% logger handler on B.
-module(erldist_filter_budget_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

%% ct callbacks
-export([all/0, suite/0]).
-export([init_per_testcase/2, end_per_testcase/2]).

%% Test cases
-export([call_within_budget_returns/1]).
-export([loop_is_killed_at_reduction_budget/1]).
-export([allocation_is_killed_at_heap_budget/1]).
-export([sleep_is_killed_at_wall_time_budget/1]).
-export([concurrency_limit_refuses_the_excess/1]).
-export([reduction_kill_spread_is_within_one_interval/1]).
-export([plain_spawn_runs_in_place/1]).

%% Run on the peers
-export([setup_node/1]).
-export([spin/0]).
-export([alloc/1]).
-export([hold/0]).
-export([whoami_then/1]).
-export([raw_spawn/3]).
-export([echo/1]).
-export([catch_apply/3]).
-export([spawn_many/3]).
-export([release_many/0]).
-export([spin_rate/1]).
-export([events/2]).
-export([collector/1]).
%% logger handler on B
-export([log/2]).

-define(TIMEOUT, 30000).
%% A call that the budget fails to stop ends here instead of hanging.
-define(CALL_TIMEOUT, 20000).

suite() ->
    [{timetrap, {minutes, 2}}].

all() ->
    [call_within_budget_returns,
     loop_is_killed_at_reduction_budget,
     allocation_is_killed_at_heap_budget,
     sleep_is_killed_at_wall_time_budget,
     concurrency_limit_refuses_the_excess,
     reduction_kill_spread_is_within_one_interval,
     plain_spawn_runs_in_place].

init_per_testcase(_TestCase, Config) ->
    {ok, [A, B] = Peers} = edf_test_peer:start_many(2, #{prefix => "edfb",
                                                         args => ["-connect_all", "false"]}),
    AppDir = filename:dirname(code:where_is_file("erldist_filter.app")),
    ok = call(A, ?MODULE, setup_node, [AppDir]),
    ok = call(B, ?MODULE, setup_node, [AppDir]),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])),
    [{peers, Peers} | Config].

end_per_testcase(_TestCase, Config) ->
    edf_test_peer:stop_all(?config(peers, Config)).

%%% Test cases

%% Ordinary calls under a finite budget return their result (or their
%% exception) unchanged; nothing is counted.
call_within_budget_returns(Config) ->
    [A, B] = ?config(peers, Config),
    NodeB = node_of(B),
    set_budget(B, #{default => #{reductions => 10000000, heap_words => 1000000,
                                 wall_ms => 5000, concurrency => 10}}),
    ?assertEqual(NodeB, call(A, erpc, call, [NodeB, erlang, node, []])),
    ?assertEqual({echo, hello}, call(A, erpc, call, [NodeB, ?MODULE, echo, [hello]])),
    ?assertEqual({echo, hello}, call(A, rpc, call, [NodeB, ?MODULE, echo, [hello]])),
    ?assertMatch({error, {exception, boom, _}},
                 call(A, ?MODULE, catch_apply, [erpc, call, [NodeB, erlang, error, [boom]]])),
    ?assertEqual({exit, {exception, bye}},
                 call(A, ?MODULE, catch_apply, [erpc, call, [NodeB, erlang, exit, [bye]]])),
    ?assertEqual({throw, ball},
                 call(A, ?MODULE, catch_apply, [erpc, call, [NodeB, erlang, throw, [ball]]])),
    ?assertEqual(zero_stats(), call(B, erldist_filter_budget, stats, [])),
    ?assertEqual(0, call(B, erldist_filter_budget, concurrency, [node_of(A)])).

%% An allowed function that loops forever is killed at its reduction
%% budget: erpc raises exit `{signal, {budget_exceeded, reductions}}', rpc
%% returns `{badrpc, {'EXIT', ...}}'; B logs and counts each hit.
loop_is_killed_at_reduction_budget(Config) ->
    [A, B] = ?config(peers, Config),
    NodeA = node_of(A),
    NodeB = node_of(B),
    Limit = 5000000,
    set_budget(B, #{mfas => [{{?MODULE, spin, 0}, #{reductions => Limit}}]}),
    ?assertEqual({exit, {signal, {budget_exceeded, reductions}}},
                 call(A, ?MODULE, catch_apply,
                      [erpc, call, [NodeB, ?MODULE, spin, [], ?CALL_TIMEOUT]])),
    ?assertEqual({ok, {badrpc, {'EXIT', {budget_exceeded, reductions}}}},
                 call(A, ?MODULE, catch_apply,
                      [rpc, call, [NodeB, ?MODULE, spin, [], ?CALL_TIMEOUT]])),
    [E1, E2] = call(B, ?MODULE, events, [2, ?TIMEOUT]),
    [?assertMatch(#{node := NodeA, mfa := {?MODULE, spin, 0}, kind := reductions,
                    limit := Limit, used := Used} when Used >= Limit, E) || E <- [E1, E2]],
    ?assertEqual((zero_stats())#{reductions => 2}, call(B, erldist_filter_budget, stats, [])),
    #{spawn_budget := #{reductions := 2}} = call(B, erldist_filter_nif, world_stats_get, []),
    %% Other functions keep the (generous) built-in default.
    ?assertEqual({echo, 1}, call(A, erpc, call, [NodeB, ?MODULE, echo, [1]])).

%% An allocating loop is killed by max_heap_size; the caller sees the
%% translated reason, not `killed'.
allocation_is_killed_at_heap_budget(Config) ->
    [A, B] = ?config(peers, Config),
    NodeA = node_of(A),
    NodeB = node_of(B),
    Limit = 1000000,
    set_budget(B, #{nodes => [{"edfb1*", #{heap_words => Limit}}]}),
    ?assertEqual({exit, {signal, {budget_exceeded, heap}}},
                 call(A, ?MODULE, catch_apply,
                      [erpc, call, [NodeB, ?MODULE, alloc, [[]], ?CALL_TIMEOUT]])),
    ?assertMatch([#{node := NodeA, mfa := {?MODULE, alloc, 1}, kind := heap, limit := Limit}],
                 call(B, ?MODULE, events, [1, ?TIMEOUT])),
    ?assertEqual((zero_stats())#{heap => 1}, call(B, erldist_filter_budget, stats, [])).

%% A sleeping call is killed at its wall-time budget, not before.
sleep_is_killed_at_wall_time_budget(Config) ->
    [A, B] = ?config(peers, Config),
    NodeB = node_of(B),
    Limit = 300,
    set_budget(B, #{default => #{wall_ms => Limit}}),
    T0 = erlang:monotonic_time(millisecond),
    ?assertEqual({exit, {signal, {budget_exceeded, time}}},
                 call(A, ?MODULE, catch_apply,
                      [erpc, call, [NodeB, timer, sleep, [infinity], ?CALL_TIMEOUT]])),
    Elapsed = erlang:monotonic_time(millisecond) - T0,
    ?assert(Elapsed >= Limit),
    ?assertMatch([#{mfa := {timer, sleep, 1}, kind := time, limit := Limit, used := Used}]
                   when Used >= Limit, call(B, ?MODULE, events, [1, ?TIMEOUT])),
    ?assertEqual((zero_stats())#{time => 1}, call(B, erldist_filter_budget, stats, [])).

%% 100 concurrent spawns that wait for a message, against a limit of 10:
%% exactly 90 are refused; the 10 admitted ones receive their message
%% (forwarded by the proxy) and end normally; the count returns to 0.
concurrency_limit_refuses_the_excess(Config) ->
    [A, B] = ?config(peers, Config),
    NodeA = node_of(A),
    NodeB = node_of(B),
    set_budget(B, #{mfas => [{{?MODULE, hold, 0}, #{concurrency => 10}}]}),
    {Refused, Admitted} = call(A, ?MODULE, spawn_many, [NodeB, 100, 10]),
    ?assertEqual(90, length(Refused)),
    ?assertEqual([{budget_exceeded, concurrency}], lists:usort(Refused)),
    ?assertEqual(10, Admitted),
    ?assertEqual(10, call(B, erldist_filter_budget, concurrency, [NodeA])),
    ?assertEqual(lists:duplicate(10, normal), call(A, ?MODULE, release_many, [])),
    ?assertEqual(0, call(B, erldist_filter_budget, concurrency, [NodeA])),
    Events = call(B, ?MODULE, events, [90, ?TIMEOUT]),
    ?assertEqual(90, length(Events)),
    %% `used' is the count that was refused: over 10 (refusals racing each
    %% other may see more than 11).
    ?assertEqual([{concurrency, 10, true}],
                 lists:usort([{K, L, U > L} || #{kind := K, limit := L, used := U} <- Events])),
    ?assertEqual((zero_stats())#{concurrency => 90}, call(B, erldist_filter_budget, stats, [])).

%% The same loop, 20 times: each is stopped at or above the limit and
%% within one sampling interval's reductions of it.
reduction_kill_spread_is_within_one_interval(Config) ->
    [A, B] = ?config(peers, Config),
    NodeB = node_of(B),
    Limit = 20000000,
    IntervalMs = 10,
    Runs = 20,
    set_budget(B, #{mfas => [{{?MODULE, spin, 0}, #{reductions => Limit}}],
                    interval_ms => IntervalMs}),
    [?assertEqual({exit, {signal, {budget_exceeded, reductions}}},
                  call(A, ?MODULE, catch_apply,
                       [erpc, call, [NodeB, ?MODULE, spin, [], ?CALL_TIMEOUT]]))
     || _ <- lists:seq(1, Runs)],
    Used = [U || #{used := U} <- call(B, ?MODULE, events, [Runs, ?TIMEOUT])],
    ?assertEqual(Runs, length(Used)),
    PerMs = call(B, ?MODULE, spin_rate, [200]),
    PerInterval = PerMs * IntervalMs,
    {Min, Max} = {lists:min(Used), lists:max(Used)},
    ct:pal("reductions at kill over ~p runs, limit ~p: min ~p (+~p) max ~p (+~p); "
           "spread ~p; loop rate ~p reductions/ms, one ~p ms interval = ~p",
           [Runs, Limit, Min, Min - Limit, Max, Max - Limit, Max - Min, PerMs, IntervalMs,
            PerInterval]),
    ?assert(Min >= Limit),
    ?assert(Max - Limit =< PerInterval),
    {comment, io_lib:format("over limit: min +~p, max +~p (one interval: ~p)",
                            [Min - Limit, Max - Limit, PerInterval])}.

%% A plain spawn (not erpc) runs in the process the caller got: it answers
%% as itself, and its monitor reports `{budget_exceeded, reductions}'; a
%% heap kill in place shows as `killed' (and is still counted as heap).
plain_spawn_runs_in_place(Config) ->
    [A, B] = ?config(peers, Config),
    NodeB = node_of(B),
    set_budget(B, #{mfas => [{{?MODULE, whoami_then, 1}, #{reductions => 5000000,
                                                            heap_words => 1000000}}]}),
    ?assertEqual({same_pid, {budget_exceeded, reductions}},
                 call(A, ?MODULE, raw_spawn, [NodeB, whoami_then, [spin]])),
    ?assertEqual({same_pid, killed}, call(A, ?MODULE, raw_spawn, [NodeB, whoami_then, [alloc]])),
    ?assertEqual({same_pid, normal}, call(A, ?MODULE, raw_spawn, [NodeB, whoami_then, [stop]])),
    ?assertMatch([#{kind := reductions}, #{kind := heap}], call(B, ?MODULE, events, [2, ?TIMEOUT])),
    ?assertEqual((zero_stats())#{reductions => 1, heap => 1},
                 call(B, erldist_filter_budget, stats, [])).

%%% Helpers (test node)

node_of(#{node := Node}) -> Node.
call(#{pid := Pid}, M, F, A) -> peer:call(Pid, M, F, A, ?TIMEOUT).

set_budget(Peer, Budget) ->
    ok = call(Peer, application, set_env, [erldist_filter, spawn_budget, Budget]).

zero_stats() ->
    #{reductions => 0, heap => 0, time => 0, concurrency => 0}.

%%% Helpers (peers)

%% @private App started, inspection on, no handler, budget events
%% collected.
setup_node(AppDir) ->
    true = code:add_pathz(AppDir),
    {ok, _} = application:ensure_all_started(erldist_filter),
    ok = erldist_filter_nif:config_set(#{deep_packet_inspection => true}),
    undefined = erldist_filter:handler_get(),
    Collector = spawn(?MODULE, collector, [[]]),
    true = register(edf_budget_events, Collector),
    ok = logger:add_handler(edf_budget_test, ?MODULE,
                            #{level => warning, config => #{collector => Collector}}),
    ok.

%% @private logger callback: budget events go to the collector.
log(#{msg := {report, #{what := budget_exceeded} = Report}}, #{config := #{collector := Pid}}) ->
    Pid ! {event, Report},
    ok;
log(_Event, _Config) ->
    ok.

%% @private
collector(Acc) ->
    receive
        {event, E} -> collector([E | Acc]);
        {get, From, N} when length(Acc) >= N -> From ! {events, lists:reverse(Acc)}, collector(Acc)
    end.

%% @private At least `N' budget events (all there are), in order.
events(N, Timeout) ->
    edf_budget_events ! {get, self(), N},
    receive {events, Es} -> Es
    after Timeout -> {timeout, N}
    end.

%% @private
spin() -> spin().

%% @private
alloc(L) -> alloc([L | L]).

%% @private Wait for `release' (sent to the pid the spawn reply named).
hold() ->
    receive release -> ok end.

%% @private
echo(X) -> {echo, X}.

%% @private Tell who asks who we are, then spin, allocate or stop.
whoami_then(Then) ->
    receive {whoami, From} -> From ! {iam, self()} end,
    case Then of
        spin -> spin();
        alloc -> alloc([]);
        stop -> ok
    end.

%% @private On A: spawn `F' on `Node' with a plain spawn request; whether
%% the process answers with the pid the spawn reply named, and its exit
%% reason.
raw_spawn(Node, F, Args) ->
    ReqId = spawn_request(Node, ?MODULE, F, Args, [monitor]),
    Pid = receive {spawn_reply, ReqId, ok, P} -> P after ?TIMEOUT -> error(no_spawn_reply) end,
    Pid ! {whoami, self()},
    Same = receive {iam, Pid} -> same_pid; {iam, Other} -> {other_pid, Other}
           after ?TIMEOUT -> error(no_answer)
           end,
    receive {'DOWN', ReqId, process, Pid, Reason} -> {Same, Reason}
    after ?CALL_TIMEOUT -> {Same, still_running}
    end.

%% @private
catch_apply(M, F, A) ->
    try erlang:apply(M, F, A) of
        Result -> {ok, Result}
    catch
        Class:Reason -> {Class, Reason}
    end.

%% @private On A: `N' spawn requests of `hold/0' on `Node' from a driver
%% process; returns once the `N - Limit' refusals arrived (their reasons,
%% and how many spawns are left). The driver then waits for
%% `release_many/0'.
spawn_many(Node, N, Limit) ->
    Ref = make_ref(),
    Caller = self(),
    _ = spawn(fun() -> driver(Node, N, Limit, Caller, Ref) end),
    receive {Ref, Result} -> Result
    after ?TIMEOUT -> timeout
    end.

driver(Node, N, Limit, Caller, Ref) ->
    Reqs = [spawn_request(Node, ?MODULE, hold, [], [monitor]) || _ <- lists:seq(1, N)],
    Pids = [receive {spawn_reply, R, ok, P} -> {R, P} after ?TIMEOUT -> error(no_spawn_reply) end
            || R <- Reqs],
    Refused = [receive {'DOWN', R, process, _, Reason} -> {R, Reason}
               after ?TIMEOUT -> error({refusals_missing, I})
               end || I <- lists:seq(1, N - Limit)],
    RefusedRefs = [R || {R, _} <- Refused],
    Live = [{R, P} || {R, P} <- Pids, not lists:member(R, RefusedRefs)],
    true = register(edf_budget_driver, self()),
    Caller ! {Ref, {[Reason || {_, Reason} <- Refused], length(Live)}},
    receive
        {release, From, Ref2} ->
            [P ! release || {_, P} <- Live],
            Released = [receive {'DOWN', R, process, P, Reason} -> Reason
                        after ?TIMEOUT -> error(release_missing)
                        end || {R, P} <- Live],
            From ! {Ref2, Released}
    end.

%% @private On A: release the admitted spawns; how each ended.
release_many() ->
    Ref = make_ref(),
    edf_budget_driver ! {release, self(), Ref},
    receive {Ref, Released} -> Released
    after ?TIMEOUT -> timeout
    end.

%% @private Reductions per ms of `spin/0', unbudgeted, over `Ms'.
spin_rate(Ms) ->
    P = spawn(fun spin/0),
    {reductions, R0} = process_info(P, reductions),
    T0 = erlang:monotonic_time(microsecond),
    receive after Ms -> ok end,
    {reductions, R1} = process_info(P, reductions),
    T1 = erlang:monotonic_time(microsecond),
    exit(P, kill),
    (R1 - R0) * 1000 div (T1 - T0).

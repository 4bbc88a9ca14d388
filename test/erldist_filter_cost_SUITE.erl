%%% What the doors the safe policy leaves open cost (issue 16).
%%%
%%% The default safe policy refuses remote code execution but leaves some
%%% doors open on purpose: the spawn allowlist (`default_spawn/0', judged
%%% with its arguments), the same list for `rex', and the allowlisted OTP
%%% names `global_name_server', `pg' and `logger_proxy' (bounded by
%%% `name_max_bytes', `global_max_name_bytes', the logger format checks).
%%% Each case pushes one door hard from a stock `inet_tcp' attacker: every
%%% allowed call with every allowed argument, or the heaviest payload the
%%% bounds admit, a few hundred times, against a victim with the one-line
%%% safe policy that does steady local work (a ticker every 5 ms). Then:
%%%
%%% <ol>
%%% <li>memory: `erlang:memory(total)' after the burst and a garbage
%%%   collection of every process is within `?MAX_GROWTH' of before, and
%%%   what the victim keeps (global names and locks, pg groups) is what
%%%   the burst was allowed to leave, each item within its bound;</li>
%%% <li>no stall: `erlang:system_monitor/2' (`long_schedule' and
%%%   `long_gc', 100 ms) saw nothing during the burst, and the ticker
%%%   answers a round trip and has kept ticking;</li>
%%% <li>the victim is up and stayed connected (no `nodedown').</li>
%%% </ol>
%%%
%%% Payloads just over a bound are refused, and the refusal is logged
%%% (`edf_test_evasion:await_drop/3').
%%%
%%% Each check can fail: `EDF_COST_LOOSEN=1 rebar3 ct --suite
%%% test/erldist_filter_cost_SUITE' runs the suite with the bounds loosened
%%% on the victim (`global_max_name_bytes', `name_max_bytes' and
%%% `logger_max_depth' huge, `logger_budget' off): the over-bound cases
%%% are delivered, so `global_door' fails (the name and lock over the bound
%%% answered `yes'/`true'), `pg_door' (the sync over the bound kept) and
%%% `logger_proxy_door' (no event over budget, and no refusal logged).
%%%
%%% Synchronisation is by replies and messages: calls are synchronous, the
%%% sends are followed by a message whose answer (a pg `sync' answer, a
%%% system call on `logger_proxy') or the policy's logged decision on every
%%% message sent proves the burst was processed.
-module(erldist_filter_cost_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0]).
-export([init_per_testcase/2, end_per_testcase/2]).
-export([spawn_door/1, rex_door/1, global_door/1, pg_door/1, logger_proxy_door/1]).

%% Run on the attacker
-export([erpc_burst/3, rex_burst/3, holder_run/1, holder_stop/1, logger_burst/3, pg_burst/4, pg_resync/1]).
%% Run on the victim
-export([setup_victim/3, cost_start/0, cost_end/1, global_kept/1, pg_kept/0, logger_drained/0]).

-define(TIMEOUT, 120000).
-define(AWAIT_MS, 20000).
%% The most the victim's memory may grow over a burst.
-define(MAX_GROWTH, (64 * 1024 * 1024)).
-define(MONITOR, [{long_schedule, 100}, {long_gc, 100}]).
-define(WATCH, edf_cost_watch).
-define(TICKER, edf_cost_ticker).
-define(TICK_MS, 5).

suite() ->
    [{timetrap, {minutes, 5}}].

all() ->
    [spawn_door, rex_door, global_door, pg_door, logger_proxy_door].
%% `logger_proxy_door' was an open finding: 375 events just under 64 KiB
%% (many small terms, character lists) queued in the handler worker's
%% on-heap mailbox took it to 20-60M words of heap and long_gc events of
%% 100-700 ms. The routers and handler workers now keep their queues off
%% the heap, and each node's logger budget bounds what logger_proxy gets.

init_per_testcase(Case, Config) ->
    {ok, Victim} = edf_test_peer:start(#{carrier => filter_inet, prefix => "victim",
                                         args => ["-erldist_filter", "safe_policy", "true",
                                                  "-kernel", "start_pg", "true",
                                                  "-connect_all", "false"]}),
    {ok, Attacker} = edf_test_peer:start(#{carrier => stock_inet, prefix => "attacker",
                                           args => ["-connect_all", "false"]}),
    LogFile = filename:join(?config(priv_dir, Config), atom_to_list(Case) ++ "_victim.log"),
    Loosen = os:getenv("EDF_COST_LOOSEN", "") =/= "",
    ok = call(Victim, ?MODULE, setup_victim, [app_dir(), LogFile, Loosen]),
    ?assertEqual(pong, call(Attacker, net_adm, ping, [node_of(Victim)])),
    [{victim, Victim}, {attacker, Attacker} | Config].

end_per_testcase(_Case, Config) ->
    edf_test_peer:stop_all([?config(K, Config) || K <- [attacker, victim]]),
    ok.

%%% Test cases

%% Every entry of the default spawn allowlist with every argument value it
%% admits, over erpc, several rounds; an argument it does not admit is
%% refused.
spawn_door(Config) ->
    Victim = ?config(victim, Config),
    VictimNode = node_of(Victim),
    Requests = allowed_requests(),
    Start = call(Victim, ?MODULE, cost_start, []),
    Results = call(?config(attacker, Config), ?MODULE, erpc_burst, [VictimNode, Requests, 6]),
    ?assertEqual([], [R || {_, {error, _}} = R <- Results]),
    ?assertEqual(6 * length(Requests), length(Results)),
    refused_spawn(Config, erlang, system_info, [procs]),
    refused_spawn(Config, erlang, statistics, [exact_reductions]),
    check_cost(Config, Start).

%% The rex allowlist (the same list by default), with rpc:block_call and
%% as a raw `$gen_call' to rex, several rounds (rpc:call is a spawn on
%% OTP 23+, see `spawn_door'); a call not on it is refused.
rex_door(Config) ->
    Victim = ?config(victim, Config),
    VictimNode = node_of(Victim),
    Requests = allowed_requests(),
    Start = call(Victim, ?MODULE, cost_start, []),
    Results = call(?config(attacker, Config), ?MODULE, rex_burst, [VictimNode, Requests, 3]),
    ?assertEqual([], [R || {_, {error, _}} = R <- Results]),
    ?assertEqual(2 * 3 * length(Requests), length(Results)),
    Attacker = node_of(?config(attacker, Config)),
    ?assertEqual({badrpc, {'EXIT', unauthorized}},
                 call(?config(attacker, Config), rpc, block_call,
                      [VictimNode, erlang, system_info, [procs], 10000])),
    ?assertMatch(#{decision := drop, reason := rex_call_not_allowed},
                 call(Victim, edf_test_evasion, await_drop, [Attacker, rex, ?AWAIT_MS])),
    check_cost(Config, Start).

%% global_name_server: 300 registrations of distinct names at the size
%% bound and 100 locks at the bound, from a process that stays alive (so
%% global keeps them all); a name and a lock just over the bound are
%% refused. The victim keeps exactly the 300 names, each within the bound.
global_door(Config) ->
    Victim = ?config(victim, Config),
    VictimNode = node_of(Victim),
    Attacker = ?config(attacker, Config),
    Max = maps:get(global_max_name_bytes, erldist_filter_policy:defaults()),
    AtBound = fun(I) -> sized(fun(N) -> name(I, N) end, Max) end,
    LockAt = fun(I) -> sized(fun(N) -> {name(I, N), edf_cost} end, Max) end,
    NameAt = AtBound(1),
    ?assertEqual(Max, erlang:external_size(NameAt)),
    Names = [AtBound(I) || I <- lists:seq(1, 300)],
    Locks = [LockAt(I) || I <- lists:seq(1, 100)],
    Method = fun global:random_exit_name/3,
    Start = call(Victim, ?MODULE, cost_start, []),
    Before = call(Victim, ?MODULE, global_kept, [Max]),
    Holder = call(Attacker, ?MODULE, holder_run,
                  [[{global_name_server, VictimNode, {register, Name, self, Method}} || Name <- Names]
                   ++ [{global_name_server, VictimNode, {set_lock, Lock}} || Lock <- Locks]]),
    {HolderPid, Replies} = Holder,
    ?assertEqual(lists:duplicate(400, true), [R =:= yes orelse R =:= true || R <- Replies]),
    {Count, Largest} = call(Victim, ?MODULE, global_kept, [Max]),
    ?assertEqual(element(1, Before) + 300, Count),
    ?assert(Largest =< Max),
    %% Just over the bound: refused, answered, logged.
    Over = [{register, sized(fun(N) -> name(0, N) end, Max + 1), self, Method},
            {set_lock, sized(fun(N) -> {name(0, N), edf_cost} end, Max + 1)}],
    {_, OverReplies} = call(Attacker, ?MODULE, holder_run,
                            [[{global_name_server, VictimNode, R} || R <- Over]]),
    ?assertEqual([{error, unauthorized}, {error, unauthorized}], OverReplies),
    [?assertMatch(#{decision := drop, reason := global_name_too_large},
                  call(Victim, edf_test_evasion, await_drop,
                       [node_of(Attacker), global_name_server, ?AWAIT_MS]))
     || _ <- Over],
    ?assertEqual({Count, Largest}, call(Victim, ?MODULE, global_kept, [Max])),
    check_cost(Config, Start),
    ok = call(Attacker, ?MODULE, holder_stop, [HolderPid]).

%% pg: a peer scope discovered, then 300 joins of distinct groups (1 KiB
%% names, 100 members each) and 10 syncs just under 1 MiB (the name's
%% size bound) that each replace what that peer had. Every message to `pg'
%% reaches the policy (a bounded name in the NIF), which bounds it at 1 MiB:
%% a sync just over the bound is refused (`payload_too_large', logged) and
%% leaves nothing. What the victim keeps is the last bounded sync's groups;
%% an attacker can have many peer processes, each keeping up to 1 MiB of
%% groups (not bounded here).
pg_door(Config) ->
    Victim = ?config(victim, Config),
    VictimNode = node_of(Victim),
    Bound = maps:get(pg, erldist_filter_policy:default_name_max_bytes()),
    Start = call(Victim, ?MODULE, cost_start, []),
    {Groups0, _} = call(Victim, ?MODULE, pg_kept, []),
    {Holder, {Joins, Syncs, SyncSize, Count, OverSize}} =
        call(?config(attacker, Config), ?MODULE, pg_burst, [VictimNode, 300, 10, Bound]),
    OverKept = call(Victim, ?MODULE, pg_kept, []),
    ?assertEqual({300, 10}, {Joins, Syncs}),
    ?assert(SyncSize =< Bound),
    ?assert(OverSize > Bound),
    %% A sync over pg's bound is refused and logged; pg keeps the last
    %% bounded sync's groups.
    OverDecision = call(Victim, edf_test_evasion, await_drop,
                        [node_of(?config(attacker, Config)), pg, ?AWAIT_MS]),
    ct:comment("pg: a sync of ~p bytes (bound ~p): ~p groups kept, decision ~p",
               [OverSize, Bound, element(1, OverKept) - Groups0, OverDecision]),
    ?assertMatch(#{decision := drop, reason := payload_too_large}, OverDecision),
    ?assertEqual(Count, element(1, OverKept) - Groups0),
    ok = call(?config(attacker, Config), ?MODULE, pg_resync, [Holder]),
    {Groups, Members} = call(Victim, ?MODULE, pg_kept, []),
    ct:pal("pg keeps ~p groups, ~p members (sync of ~p bytes)", [Groups - Groups0, Members, SyncSize]),
    %% The last sync replaced the joins: its groups, one member each.
    ?assertEqual(Count, Groups - Groups0),
    ?assertEqual(Count, Members),
    check_cost(Config, Start),
    ok = call(?config(attacker, Config), ?MODULE, holder_stop, [Holder]).

%% logger_proxy: 25 rounds of heavy log events (each just under the
%% 64 KiB bound: a large argument, many small arguments, arguments nested
%% to the depth bound, report messages), 125 events, about 8 MB, at once.
%% The attacker's logger budget (default 256 KiB, then 64 KiB/s) lets
%% through what it holds and refuses the rest (`logger_budget_exceeded',
%% logged): what was kept fits the budget over the burst's time, and the
%% victim's memory, schedulers and ticker stay as with the other doors.
%% Then formats that expand, nesting over the bound, a payload over the
%% bound and a relay (`remote') are refused for what they are (the checks
%% come before the budget, so the spent budget does not hide them).
%% Without the budget (`EDF_COST_LOOSEN=1') every event is delivered and
%% the case fails.
logger_proxy_door(Config) ->
    Victim = ?config(victim, Config),
    VictimNode = node_of(Victim),
    Attacker = node_of(?config(attacker, Config)),
    Defaults = erldist_filter_policy:defaults(),
    Bound = maps:get(logger_proxy, maps:get(name_max_bytes, Defaults)),
    Depth = maps:get(logger_max_depth, Defaults),
    #{burst_bytes := Burst, bytes_per_second := Rate} = maps:get(logger_budget, Defaults),
    Heavy = heavy_events(Bound, Depth),
    [?assert(erlang:external_size(E) =< Bound) || E <- Heavy],
    MinSize = lists:min([erlang:external_size(E) || E <- Heavy]),
    Rounds = 25,
    Total = Rounds * length(Heavy),
    Start = call(Victim, ?MODULE, cost_start, []),
    T0 = erlang:monotonic_time(millisecond),
    ok = call(?config(attacker, Config), ?MODULE, logger_burst, [VictimNode, Heavy, Rounds]),
    {ok, Decisions} = call(Victim, edf_test_evasion, await_count, [Attacker, logger_proxy, Total, ?AWAIT_MS * 3]),
    Elapsed = erlang:monotonic_time(millisecond) - T0,
    ok = call(Victim, ?MODULE, logger_drained, []),
    Kept = [D || D = #{decision := keep} <- Decisions],
    OverBudget = [D || D = #{decision := drop, reason := logger_budget_exceeded} <- Decisions],
    ct:pal("logger_proxy: ~p events in ~p ms: ~p kept, ~p over budget, others ~p",
           [Total, Elapsed, length(Kept), length(OverBudget),
            [{maps:get(decision, D), maps:get(reason, D)} || D <- Decisions -- (Kept ++ OverBudget)]]),
    ?assertEqual(Total, length(Kept) + length(OverBudget)),
    %% What was delivered fits the budget over the burst's time (each kept
    %% event is at least MinSize bytes); the rest was refused and logged.
    ?assert(length(Kept) * MinSize =< Burst + Rate * (Elapsed + 1000) div 1000),
    ?assert(length(OverBudget) > 0),
    ?assertMatch([#{budget_drops := _} | _], OverBudget),
    ok = call(Victim, edf_test_evasion, forget, []),
    Refused = [{{log, notice, "~999999999p", [x], #{}}, logger_format_refused},
               {{log, notice, "~*c", [99999999, $x], #{}}, logger_format_refused},
               {{log, notice, "~.99999999p", [x], #{}}, logger_format_refused},
               {{log, notice, "~-99999999s", ["x"], #{}}, logger_format_refused},
               {{log, notice, "~p", [deep(Depth + 1)], #{}}, logger_format_refused},
               {{log, notice, "~p", [binary:copy(<<"x">>, Bound)], #{}}, payload_too_large},
               {{remote, Attacker, {log, notice, "x", [], #{}}}, logger_request}],
    [begin
         ok = call(?config(attacker, Config), edf_test_evasion, send_named, [logger_proxy, VictimNode, Msg]),
         ?assertMatch({Reason, #{decision := drop, reason := Reason}},
                      {Reason, call(Victim, edf_test_evasion, await_drop, [Attacker, logger_proxy, ?AWAIT_MS])}),
         ok = call(Victim, edf_test_evasion, forget, [])
     end || {Msg, Reason} <- Refused],
    check_cost(Config, Start).

%%% Helpers

%% Every request the default spawn allowlist admits: each entry with each
%% allowed argument value.
allowed_requests() ->
    lists:append([expand(M, F, A) || {M, F, A} <- erldist_filter_policy:default_spawn()]).

expand(M, F, 0) -> [{M, F, []}];
expand(M, F, Specs) when is_list(Specs) ->
    [{M, F, Args} || Args <- combos(Specs)].

combos([]) -> [[]];
combos([{one_of, Values} | Rest]) -> [[V | T] || V <- Values, T <- combos(Rest)].

refused_spawn(Config, M, F, A) ->
    Victim = ?config(victim, Config),
    [{_, Result}] = call(?config(attacker, Config), ?MODULE, erpc_burst, [node_of(Victim), [{M, F, A}], 1]),
    ?assertEqual({error, {exit, {exception, unauthorized}}}, Result),
    ?assertMatch(#{decision := drop, reason := spawn_not_allowed},
                 call(Victim, edf_test_evasion, await_drop,
                      [node_of(?config(attacker, Config)), undefined, ?AWAIT_MS])),
    ok = call(Victim, edf_test_evasion, forget, []).

%% The largest term `Make(N)' whose external size is at most `Max'
%% (exactly `Max' for the shapes used here). The size never shrinks as
%% `N' grows, so a binary search finds it (a linear one took minutes for
%% the 64 KiB log events).
sized(Make, Max) ->
    sized(Make, Max, 0, above(Make, Max, 1)).

%% An N whose term is over `Max'.
above(Make, Max, N) ->
    case erlang:external_size(Make(N)) > Max of
        true -> N;
        false -> above(Make, Max, 2 * N)
    end.

%% Make(Lo) fits, Make(Hi) does not.
sized(Make, _Max, Lo, Hi) when Hi - Lo =< 1 -> Make(Lo);
sized(Make, Max, Lo, Hi) ->
    Mid = (Lo + Hi) div 2,
    case erlang:external_size(Make(Mid)) > Max of
        true -> sized(Make, Max, Lo, Mid);
        false -> sized(Make, Max, Mid, Hi)
    end.

name(I, N) ->
    Prefix = <<"edf_cost_", (integer_to_binary(I))/binary, "_">>,
    <<Prefix/binary, (binary:copy(<<"n">>, max(0, N - byte_size(Prefix))))/binary>>.

deep(0) -> [];
deep(N) -> [deep(N - 1)].

%% Nested `Depth' deep, each level a tuple with a few atoms (pretty
%% printing indents every level).
deep_wide(0) -> leaf;
deep_wide(N) -> {level, N, [alpha, beta, gamma, delta], deep_wide(N - 1)}.

%% Log events at the bounds: the payload just under the name's bound.
heavy_events(Bound, Depth) ->
    Pad = fun(Make) -> sized(Make, Bound) end,
    [Pad(fun(N) -> {log, notice, "edf cost ~p", [binary:copy(<<"x">>, N)], #{}} end),
     Pad(fun(N) -> {log, notice, "edf cost ~ts", [binary:copy(<<"é"/utf8>>, N div 2)], #{}} end),
     Pad(fun(N) -> {log, notice, lists:append(lists:duplicate(N div 40 + 1, "~p ~w ")),
                    lists:append(lists:duplicate(N div 40 + 1, [{a, 1.5, "str"}, [1, 2, 3]])), #{}} end),
     Pad(fun(N) -> {log, notice, "edf cost ~p ~p",
                    [deep_wide(Depth - 4), binary:copy(<<"y">>, N)], #{}} end),
     Pad(fun(N) -> {log, notice, {report, #{what => edf_cost, data => lists:duplicate(N div 2, $z)}},
                    #{}} end)].

%% The victim after the burst: memory within the margin, no long schedule
%% or long gc, the ticker alive and ticking, still connected.
check_cost(Config, Start) ->
    Victim = ?config(victim, Config),
    End = call(Victim, ?MODULE, cost_end, [Start]),
    ct:pal("cost: ~p", [End]),
    #{growth := Growth, monitor_events := Events, ticker := Ticker, nodedowns := Downs} = End,
    ?assert(Growth < ?MAX_GROWTH),
    ?assertEqual([], Events),
    ?assertMatch({alive, _}, Ticker),
    {alive, Ticks} = Ticker,
    ?assert(Ticks > maps:get(ticks, Start)),
    ?assertEqual([], Downs),
    ?assertEqual(node_of(Victim), call(Victim, erlang, node, [])),
    ?assertEqual(pong, call(?config(attacker, Config), net_adm, ping, [node_of(Victim)])),
    ok.

app_dir() ->
    filename:dirname(code:where_is_file("erldist_filter.app")).

node_of(#{node := Node}) -> Node.
call(#{pid := Pid}, M, F, A) -> peer:call(Pid, M, F, A, ?TIMEOUT).

%%% Attacker side

%% @private Every request `Rounds' times over erpc: `{Request, {ok, _} |
%% {error, {Class, Reason}}}' each.
erpc_burst(Node, Requests, Rounds) ->
    [{R, try {ok, erpc:call(Node, M, F, A, 10000)}
         catch Class:Reason -> {error, {Class, Reason}}
         end}
     || _ <- lists:seq(1, Rounds), {M, F, A} = R <- Requests].

%% @private Every request `Rounds' times with rpc:block_call and as a raw
%% rex `$gen_call' `call' (rpc:call goes through erpc, a spawn, on OTP 23+).
rex_burst(Node, Requests, Rounds) ->
    lists:append(
      [[{{rpc, R}, rex_result(rpc:call(Node, M, F, A, 10000))},
        {{gen_call, R}, rex_result(caught(fun() -> gen_server:call({rex, Node}, {call, M, F, A, group_leader()}, 10000) end))}]
       || _ <- lists:seq(1, Rounds), {M, F, A} = R <- Requests]).

rex_result({badrpc, _} = Bad) -> {error, Bad};
rex_result({'EXIT', _} = Exit) -> {error, Exit};
rex_result(Value) -> {ok, Value}.

%% @private A process that makes the gen calls `[{Name, Node, Request}]'
%% (`self' in a request is replaced by its pid) and stays alive (global
%% keeps a registration or a lock while its owner lives): `{Pid, Replies}'.
holder_run(Calls) ->
    Parent = self(),
    Ref = make_ref(),
    Pid = spawn(fun() ->
                        Me = self(),
                        Replies = [caught(fun() -> gen_server:call({Name, Node}, subst(Request, Me), 10000) end)
                                   || {Name, Node, Request} <- Calls],
                        Parent ! {Ref, Replies},
                        receive stop -> ok end
                end),
    receive {Ref, Replies} -> {Pid, Replies} end.

%% What `catch Expr' gave, without it (OTP 29 refuses it).
caught(F) ->
    try F()
    catch
        throw:Thrown -> Thrown;
        _:Reason -> {'EXIT', Reason}
    end.

subst({register, Name, self, Method}, Me) -> {register, Name, Me, Method};
subst(Request, _Me) -> Request.

%% @private
holder_stop(Pid) ->
    Pid ! stop,
    ok.

%% @private Send every event `Rounds' times to logger_proxy on `Node'
%% (the victim awaits the policy's decision on each).
logger_burst(Node, Events, Rounds) ->
    [{logger_proxy, Node} ! E || _ <- lists:seq(1, Rounds), E <- Events],
    ok.

%% @private From a process that stays alive (pg drops a peer's groups
%% when it goes down): discover the victim's pg as a peer scope, send
%% `Joins' joins of distinct groups and `Syncs' syncs just under `Bound'
%% bytes, then wait until pg has handled them all (its answer to a second
%% discover). `{Pid, Result}'; `holder_stop/1' ends it.
pg_burst(Node, Joins, Syncs, Bound) ->
    Parent = self(),
    Ref = make_ref(),
    Pid = spawn(fun() ->
                        Parent ! {Ref, pg_burst_run(Node, Joins, Syncs, Bound)},
                        pg_holder(Node)
                end),
    receive {Ref, Result} -> {Pid, Result} end.

%% @private Have the pg holder send its bounded sync again.
pg_resync(Pid) ->
    Ref = make_ref(),
    Pid ! {resync, self(), Ref},
    receive {Ref, Reply} -> Reply after ?AWAIT_MS -> timeout end.

pg_holder(Node) ->
    receive
        stop -> ok;
        {resync, From, Ref} ->
            {pg, Node} ! get(edf_cost_sync),
            From ! {Ref, pg_synced_after(Node, self())},
            pg_holder(Node)
    end.

pg_burst_run(Node, Joins, Syncs, Bound) ->
    Peer = self(),
    Members = lists:duplicate(100, Peer),
    {pg, Node} ! {discover, Peer},
    ok = pg_synced(),
    [{pg, Node} ! {join, Peer, name(I, 1000), Members} || I <- lists:seq(1, Joins)],
    %% As many 1000-byte groups as fit under the bound.
    PerGroup = erlang:external_size([{name(1, 1000), [Peer]}]),
    Count = Bound div PerGroup - 1,
    Groups = [{name(I, 1000), [Peer]} || I <- lists:seq(1, Count)],
    Sync = {'$gen_cast', {sync, Peer, Groups}},
    Size = erlang:external_size(Sync),
    [{pg, Node} ! Sync || _ <- lists:seq(1, Syncs)],
    %% Then one just over the bound (refused or not, see pg_door), and the
    %% bounded one again.
    Over = {'$gen_cast', {sync, Peer, [{name(I, 1000), [Peer]} || I <- lists:seq(1, Count + 100)]}},
    {pg, Node} ! Over,
    ok = pg_synced_after(Node, Peer),
    put(edf_cost_sync, Sync),
    %% Order holds between two processes: the same peer asks again.
    {pg, Node} ! {discover, Peer},
    ok = pg_synced(),
    {Joins, Syncs, Size, Count, erlang:external_size(Over)}.

%% pg has handled what `Peer' sent before.
pg_synced_after(Node, Peer) ->
    {pg, Node} ! {discover, Peer},
    pg_synced().

%% pg answers a discover with a sync cast (and a discover of its own).
pg_synced() ->
    receive {'$gen_cast', {sync, _, _}} -> ok
    after ?AWAIT_MS -> exit(pg_no_answer)
    end.

%%% Victim side

%% @private The application, the policy's decisions collected, a logger
%% file handler in place of the default one (the events are formatted, to
%% a file), and the watcher: system monitor, node
%% monitor, ticker. `Loosen': the bounds made huge (to see the checks
%% fail).
setup_victim(AppDir, LogFile, Loosen) ->
    true = code:add_pathz(AppDir),
    {ok, _} = application:ensure_all_started(erldist_filter),
    erldist_filter_policy = erldist_filter:handler_get(),
    ok = edf_test_evasion:decisions_start(),
    _ = erldist_filter_protected:refresh_sync(),
    ok = logger:remove_handler(default),
    ok = logger:add_handler(edf_cost_file, logger_std_h,
                            #{level => all, config => #{type => {file, LogFile}}}),
    Loosen andalso
        application:set_env(erldist_filter, policy,
                            #{global_max_name_bytes => 1 bsl 30, logger_max_depth => 1 bsl 30,
                              logger_budget => infinity,
                              name_max_bytes => #{logger_proxy => 1 bsl 30, '_' => 1 bsl 30}}),
    Parent = self(),
    Watch = spawn(fun() -> watch_init(Parent) end),
    receive {Watch, ready} -> ok end,
    ok.

watch_init(Parent) ->
    true = register(?WATCH, self()),
    ok = net_kernel:monitor_nodes(true),
    Ticker = spawn_link(fun() -> true = register(?TICKER, self()), tick(0) end),
    _ = erlang:system_monitor(self(), ?MONITOR),
    Parent ! {self(), ready},
    watch(#{ticker => Ticker, events => [], downs => []}).

watch(S = #{events := Events, downs := Downs}) ->
    receive
        {monitor, Pid, What, Info} ->
            Who = erlang:process_info(Pid, [registered_name, initial_call, current_function,
                                            message_queue_len, total_heap_size]),
            watch(S#{events := [{What, Pid, Who, Info} | Events]});
        {nodedown, Node} -> watch(S#{downs := [Node | Downs]});
        {nodeup, _} -> watch(S);
        {clear, From, Ref} -> From ! {Ref, ok}, watch(S#{events := [], downs := []});
        {events, From, Ref} -> From ! {Ref, lists:reverse(Events), lists:reverse(Downs)}, watch(S)
    end.

%% Steady local work every few ms; answers how many ticks so far.
tick(Count) ->
    receive
        {ping, From, Ref} -> From ! {Ref, Count}, tick(Count)
    after ?TICK_MS ->
            _ = erlang:phash2(lists:seq(1, 500)),
            tick(Count + 1)
    end.

%% @private Before the burst: every process collected, the monitor's
%% events cleared; the memory and the ticks.
cost_start() ->
    ok = watch_call(clear),
    #{memory => collected_memory(), ticks => ticks()}.

%% @private After the burst.
cost_end(#{memory := Before}) ->
    Memory = collected_memory(),
    {Events, Downs} = watch_events(),
    Ticker = try {alive, ticks()} catch exit:Reason -> {dead, Reason} end,
    #{before => Before, 'after' => Memory, growth => Memory - Before,
      monitor_events => Events, ticker => Ticker, nodedowns => Downs,
      process_count => erlang:system_info(process_count)}.

collected_memory() ->
    [erlang:garbage_collect(P) || P <- processes()],
    erlang:memory(total).

ticks() ->
    Ref = make_ref(),
    ?TICKER ! {ping, self(), Ref},
    receive {Ref, Count} -> Count
    after 5000 -> exit(ticker_stalled)
    end.

watch_call(What) ->
    Ref = make_ref(),
    ?WATCH ! {What, self(), Ref},
    receive {Ref, Reply} -> Reply after 5000 -> exit(watch_stalled) end.

watch_events() ->
    Ref = make_ref(),
    ?WATCH ! {events, self(), Ref},
    receive {Ref, Events, Downs} -> {Events, Downs} after 5000 -> exit(watch_stalled) end.

%% @private logger_proxy has handled what it was sent before (a system
%% message queues behind the events).
logger_drained() ->
    _ = sys:get_state(logger_proxy, 60000),
    ok.

%% @private How many global names the victim keeps, and the largest one's
%% external size.
global_kept(_Max) ->
    Names = global:registered_names(),
    {length(Names), lists:max([0 | [erlang:external_size(N) || N <- Names]])}.

%% @private pg's default scope: groups and members.
pg_kept() ->
    Groups = pg:which_groups(),
    {length(Groups), lists:sum([length(pg:get_members(G)) || G <- Groups])}.

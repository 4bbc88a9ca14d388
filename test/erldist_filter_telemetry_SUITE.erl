%%% Telemetry-shaped events from real traffic: a filtered victim (B)
%%% with a handler attached through `erldist_filter_telemetry', peer A
%%% sending it what the filter drops or redirects and remote spawns that
%%% go over budget, a hostile client (`edf_hostile_peer') sending bytes
%%% the filter refuses, and the NIF's logger queue overflowing. Plus the
%%% dispatcher's own rules (detach, failing handlers, nothing attached).
-module(erldist_filter_telemetry_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0]).
-export([init_per_testcase/2, end_per_testcase/2]).

-export([dropped_and_redirected/1]).
-export([closed_for_bad_input_and_limit_hit/1]).
-export([budget_exceeded/1]).
-export([logger_dropped/1]).
-export([detach_and_failing_handler/1]).
-export([forwards_to_telemetry_when_loaded/1]).

%% Run on the peers
-export([setup_node/1]).
-export([collector/2]).
-export([await/3]).
-export([target/0]).
-export([link_and_exit/2]).
-export([send_many/2]).
-export([start_logger_pool/0]).
-export([spin/0]).
-export([catch_erpc/4]).
-export([load_telemetry_stand_in/0]).

-define(TIMEOUT, 30000).
-define(COLLECTOR, edf_telemetry_events).

suite() ->
    [{timetrap, {minutes, 3}}].

all() ->
    [dropped_and_redirected, closed_for_bad_input_and_limit_hit, budget_exceeded,
     logger_dropped, detach_and_failing_handler, forwards_to_telemetry_when_loaded].

init_per_testcase(detach_and_failing_handler, Config) ->
    Config;
init_per_testcase(_TestCase, Config) ->
    {ok, [A, B] = Peers} = edf_test_peer:start_many(2, #{prefix => "edft",
                                                         args => ["-connect_all", "false"]}),
    AppDir = filename:dirname(code:where_is_file("erldist_filter.app")),
    ok = call(A, ?MODULE, setup_node, [AppDir]),
    ok = call(B, ?MODULE, setup_node, [AppDir]),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])),
    [{peers, Peers} | Config].

end_per_testcase(_TestCase, Config) ->
    edf_test_peer:stop_all(proplists:get_value(peers, Config, [])).

%%% Test cases

%% A link to B is always dropped under inspection; an exit/2 signal goes
%% to the handler (redirected). B's poller reports both, per node.
dropped_and_redirected(Config) ->
    [A, B] = ?config(peers, Config),
    NodeA = node_of(A),
    NodeB = node_of(B),
    ok = call(B, erldist_filter_nif, config_set, [#{deep_packet_inspection => true,
                                                    redirect_dist_operations => true}]),
    Target = call(A, erpc, call, [NodeB, ?MODULE, target, []]),
    ok = call(A, ?MODULE, link_and_exit, [Target, NodeB]),
    ok = call(B, erldist_filter_telemetry_poller, sample, []),
    ?assertMatch({[erldist_filter, message, dropped], #{count := N}, #{node := NodeA}} when N >= 1,
                 call(B, ?MODULE, await, [[erldist_filter, message, dropped], #{node => NodeA}, ?TIMEOUT])),
    ?assertMatch({[erldist_filter, message, redirected], #{count := N}, #{node := NodeA}} when N >= 1,
                 call(B, ?MODULE, await, [[erldist_filter, message, redirected], #{node => NodeA}, ?TIMEOUT])).

%% Bytes the filter refuses close that connection: a length over
%% `max_packet_len' is a limit hit, then a closed connection; an unknown
%% frame tag only a closed connection.
closed_for_bad_input_and_limit_hit(Config) ->
    [_A, B] = ?config(peers, Config),
    ok = call(B, erldist_filter_nif, limits_set, [max_packet_len, 4096]),
    {ok, Conn1} = edf_hostile_peer:connect(node_of(B)),
    Node1 = edf_hostile_peer:node_name(Conn1),
    ok = edf_hostile_peer:send_raw(Conn1, <<100000:32>>),
    ?assertMatch({_, #{count := 1}, #{limit := max_packet_len, action := close}},
                 call(B, ?MODULE, await, [[erldist_filter, limit, hit], #{node => Node1}, ?TIMEOUT])),
    ?assertMatch({_, #{count := 1}, #{reason := {error, {erldist_filter, max_packet_len, _}}}},
                 call(B, ?MODULE, await, [[erldist_filter, connection, closed], #{node => Node1}, ?TIMEOUT])),
    ?assert(edf_hostile_peer:wait_closed(Conn1, ?TIMEOUT)),
    {ok, Conn2} = edf_hostile_peer:connect(node_of(B)),
    Node2 = edf_hostile_peer:node_name(Conn2),
    ok = edf_hostile_peer:send_raw(Conn2, edf_hostile_peer:frame(<<131, 99, 0:160>>)),
    ?assertMatch({_, _, #{reason := {error, {erldist_filter, unknown_frame_tag, #{limit := false}}}}},
                 call(B, ?MODULE, await, [[erldist_filter, connection, closed], #{node => Node2}, ?TIMEOUT])),
    ?assertEqual(none, call(B, ?MODULE, await, [[erldist_filter, limit, hit], #{node => Node2}, 0])),
    ?assert(edf_hostile_peer:wait_closed(Conn2, ?TIMEOUT)).

%% A remote spawn that loops is killed at its reduction budget: one
%% event naming the node, the function and the kind.
budget_exceeded(Config) ->
    [A, B] = ?config(peers, Config),
    NodeA = node_of(A),
    NodeB = node_of(B),
    ok = call(B, erldist_filter_nif, config_set, [deep_packet_inspection, true]),
    ok = call(B, application, set_env, [erldist_filter, spawn_budget,
                                        #{mfas => [{{?MODULE, spin, 0}, #{reductions => 5000000}}]}]),
    ?assertEqual({exit, {signal, {budget_exceeded, reductions}}},
                 call(A, ?MODULE, catch_erpc, [NodeB, ?MODULE, spin, []])),
    ?assertMatch({_, #{count := 1}, #{mfa := {?MODULE, spin, 0}, kind := reductions,
                                      limit := 5000000, used := Used}} when Used >= 5000000,
                 call(B, ?MODULE, await, [[erldist_filter, budget, exceeded], #{node => NodeA}, ?TIMEOUT])).

%% With room for one event and no logger reading, the NIF's queue drops
%% the oldest; the first worker that reads reports how many.
logger_dropped(Config) ->
    [A, B] = ?config(peers, Config),
    NodeB = node_of(B),
    ok = call(B, erldist_filter_nif, config_set, [#{deep_packet_inspection => true, logging => true,
                                                    untrusted => true, redirect_dist_operations => true}]),
    _ = call(B, erldist_filter_nif, logger_set_capacity, [1]),
    _ = call(A, erpc, call, [NodeB, ?MODULE, target, []]),
    ok = call(A, ?MODULE, send_many, [NodeB, 20]),
    ok = call(B, ?MODULE, start_logger_pool, []),
    ?assertMatch({_, #{count := N}, #{node := undefined}} when N >= 10,
                 call(B, ?MODULE, await, [[erldist_filter, logger, dropped], #{}, ?TIMEOUT])).

%% On this (undistributed) node: events reach attached handlers only,
%% a handler that raises is detached, and with nothing attached nothing
%% is stored.
detach_and_failing_handler(_Config) ->
    Event = [erldist_filter, test, event],
    Self = self(),
    ok = erldist_filter_telemetry:attach(good, Event, fun(E, M, Md, Cfg) -> Self ! {Cfg, E, M, Md} end, good),
    ?assertEqual({error, already_exists}, erldist_filter_telemetry:attach(good, Event, fun(_, _, _, _) -> ok end, x)),
    ok = erldist_filter_telemetry:attach(bad, Event, fun(_, _, _, _) -> error(boom) end, bad),
    ?assert(erldist_filter_telemetry:enabled()),
    ok = erldist_filter_telemetry:execute(Event, #{count => 1}, #{node => n}),
    receive {good, Event, #{count := 1}, #{node := n}} -> ok after 0 -> ct:fail(not_delivered) end,
    ?assertEqual([good], [Id || {Id, _, _, _} <- erldist_filter_telemetry:list_handlers()]),
    ok = erldist_filter_telemetry:execute([erldist_filter, other, event], #{count => 1}, #{}),
    ok = erldist_filter_telemetry:detach(good),
    ?assertEqual({error, not_found}, erldist_filter_telemetry:detach(good)),
    ok = erldist_filter_telemetry:execute(Event, #{count => 2}, #{}),
    receive Unexpected -> ct:fail({unexpected, Unexpected}) after 0 -> ok end,
    ?assertNot(erldist_filter_telemetry:enabled()),
    ?assertEqual(undefined, persistent_term:get(erldist_filter_telemetry, undefined)).

%% Where the `telemetry' library is loaded, events also go to
%% `telemetry:execute/3', with no handler attached here. The library is
%% not available offline, so the peer loads a stand-in module of that name
%% with the same `execute/3' (built in memory, never on the code path).
forwards_to_telemetry_when_loaded(Config) ->
    [_A, B] = ?config(peers, Config),
    ok = call(B, erldist_filter_telemetry, detach, [edf_test]),
    ?assertNot(call(B, erldist_filter_telemetry, enabled, [])),
    ok = call(B, ?MODULE, load_telemetry_stand_in, []),
    %% The poller notices at its next sample (here: now).
    ok = call(B, erldist_filter_telemetry_poller, sample, []),
    ?assert(call(B, erldist_filter_telemetry, enabled, [])),
    {ok, Conn} = edf_hostile_peer:connect(node_of(B)),
    Node = edf_hostile_peer:node_name(Conn),
    ok = edf_hostile_peer:send_raw(Conn, edf_hostile_peer:frame(<<131, 99, 0:160>>)),
    ?assertMatch({[erldist_filter, connection, closed], #{count := 1}, #{node := Node}},
                 call(B, ?MODULE, await, [[erldist_filter, connection, closed], #{node => Node}, ?TIMEOUT])),
    ?assert(edf_hostile_peer:wait_closed(Conn, ?TIMEOUT)).

%%% Helpers (test node)

node_of(#{node := Node}) -> Node.
call(#{pid := Pid}, M, F, A) -> peer:call(Pid, M, F, A, ?TIMEOUT * 2).

%%% Helpers (peers)

%% @private App started, every event collected.
setup_node(AppDir) ->
    true = code:add_pathz(AppDir),
    {ok, _} = application:ensure_all_started(erldist_filter),
    Collector = spawn(?MODULE, collector, [[], []]),
    true = register(?COLLECTOR, Collector),
    ok = erldist_filter_telemetry:attach_many(edf_test, erldist_filter_telemetry:events(),
                                              fun(E, M, Md, Pid) -> Pid ! {event, {E, M, Md}} end,
                                              Collector),
    %% The poller's baseline: what the channels counted before now.
    erldist_filter_telemetry_poller:sample().

%% @private Keeps every event; answers each waiter with the first event
%% of its name whose metadata contains its pattern.
collector(Events, Waiters) ->
    receive
        {event, E} -> serve(Events ++ [E], Waiters);
        {await, From, Name, Pattern} -> serve(Events, Waiters ++ [{From, Name, Pattern}])
    end.

serve(Events, Waiters) ->
    Left = [W || W = {From, Name, Pattern} <- Waiters,
                 case [E || E = {N, _, Md} <- Events, N =:= Name,
                            maps:with(maps:keys(Pattern), Md) =:= Pattern] of
                     [First | _] -> From ! {?COLLECTOR, First}, false;
                     [] -> true
                 end],
    collector(Events, Left).

%% @private
await(Name, Pattern, Timeout) ->
    ?COLLECTOR ! {await, self(), Name, Pattern},
    receive {?COLLECTOR, E} -> E
    after Timeout -> none
    end.

%% @private A registered process on B to aim at.
target() ->
    case whereis(edf_target) of
        undefined ->
            Pid = spawn(fun() -> process_flag(trap_exit, true), receive stop -> ok end end),
            true = register(edf_target, Pid),
            Pid;
        Pid ->
            Pid
    end.

%% @private On A: a link (dropped) and an exit/2 signal (redirected), then
%% an erpc call on the same connection, so B's filter has seen both.
link_and_exit(Target, NodeB) ->
    true = link(Target),
    true = exit(Target, edf_test),
    NodeB = erpc:call(NodeB, erlang, node, []),
    unlink(Target),
    ok.

%% @private On A: `N' sends to B's target, then a call as a barrier.
send_many(NodeB, N) ->
    [{edf_target, NodeB} ! {hello, I} || I <- lists:seq(1, N)],
    NodeB = erpc:call(NodeB, erlang, node, []),
    ok.

%% @private
start_logger_pool() ->
    {ok, _} = supervisor:start_child(erldist_filter_sup,
                                     erldist_filter_logger_sup:child_spec(edf_test_logger, [], 1)),
    ok.

%% @private
spin() -> spin().

%% @private A module `telemetry' whose `execute/3' hands the event to
%% this suite's collector, as a `telemetry' handler would.
load_telemetry_stand_in() ->
    Forms = [{attribute, 1, module, telemetry},
             {attribute, 2, export, [{execute, 3}]},
             {function, 3, execute, 3,
              [{clause, 3, [{var, 3, 'E'}, {var, 3, 'M'}, {var, 3, 'Md'}], [],
                [{op, 4, '!', {atom, 4, ?COLLECTOR},
                  {tuple, 4, [{atom, 4, event}, {tuple, 4, [{var, 4, 'E'}, {var, 4, 'M'}, {var, 4, 'Md'}]}]}},
                 {atom, 5, ok}]}]}],
    {ok, telemetry, Bin} = compile:forms(Forms, []),
    {module, telemetry} = code:load_binary(telemetry, "telemetry_stand_in", Bin),
    ok.

%% @private On A: an erpc call's exception as a value.
catch_erpc(Node, M, F, A) ->
    try erpc:call(Node, M, F, A, ?TIMEOUT)
    catch Class:Reason -> {Class, Reason}
    end.

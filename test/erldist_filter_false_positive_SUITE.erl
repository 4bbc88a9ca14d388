%%% OTP's own traffic and ordinary application traffic keep working through
%%% the filter with the one-line safe policy (`-erldist_filter safe_policy
%%% true') on both peers: `global' registration and sync, `pg' groups,
%%% `gen_server' calls to user processes, `erpc'/`rpc' calls on the spawn
%%% allowlist (and an allowlist loosened at run time), `net_adm:ping',
%%% remote monitors. None of it is refused (no `drop' decision logged).
%%%
%%% What the policy does refuse, and what the caller sees, is shown too:
%%% an `erpc'/`rpc' call off the allowlist, and remote links, which are
%%% always dropped with deep packet inspection on (SPEC decision 8): the
%%% link is never set up, so no EXIT signal ever arrives.
-module(erldist_filter_false_positive_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0]).
-export([init_per_testcase/2, end_per_testcase/2]).

-export([global_registration_and_sync/1]).
-export([pg_groups/1]).
-export([gen_server_calls_to_user_processes/1]).
-export([allowlisted_erpc_and_rpc/1]).
-export([allowlist_from_app_env/1]).
-export([net_adm_ping/1]).
-export([remote_monitor/1]).
-export([remote_link_is_dropped/1]).
-export([refused_io_request_is_answered/1]).

%% Run on the peers
-export([setup/1]).
-export([start_server/1]).
-export([server/0]).
-export([global_register/1]).
-export([pg_join/2]).
-export([await_members/3]).
-export([monitor_and_kill/2]).
-export([monitor_name/2]).
-export([link_and_kill/1]).
-export([catch_apply/3]).
-export([io_request_from_here/2]).
-export([await_io_reply_start/1]).
-export([await_io_reply/2]).

-define(TIMEOUT, 20000).

suite() ->
    [{timetrap, {minutes, 1}}].

all() ->
    [global_registration_and_sync, pg_groups, gen_server_calls_to_user_processes,
     allowlisted_erpc_and_rpc, allowlist_from_app_env, net_adm_ping, remote_monitor,
     remote_link_is_dropped, refused_io_request_is_answered].

init_per_testcase(_Case, Config) ->
    %% connect_all stays on: global needs it.
    Args = ["-erldist_filter", "safe_policy", "true"],
    {ok, [A, B] = Peers} = edf_test_peer:start_many(2, #{carrier => filter_inet, prefix => "fp", args => Args}),
    [ok = call(P, ?MODULE, setup, [app_dir()]) || P <- Peers],
    [{a, A}, {b, B} | Config].

end_per_testcase(_Case, Config) ->
    Peers = [?config(a, Config), ?config(b, Config)],
    Drops = [{node_of(P), refusals(P)} || P <- Peers],
    ct:pal("refusals logged: ~p", [Drops]),
    edf_test_peer:stop_all(Peers),
    ok.

%%% Test cases

global_registration_and_sync(Config) ->
    {A, B} = peers(Config),
    pong = call(A, net_adm, ping, [node_of(B)]),
    ok = call(A, global, sync, []),
    ok = call(B, global, sync, []),
    PidA = call(A, ?MODULE, global_register, [edf_fp_global_a]),
    PidB = call(B, ?MODULE, global_register, [edf_fp_global_b]),
    ok = call(A, global, sync, []),
    ok = call(B, global, sync, []),
    ?assertEqual(PidA, call(B, global, whereis_name, [edf_fp_global_a])),
    ?assertEqual(PidB, call(A, global, whereis_name, [edf_fp_global_b])),
    %% a global transaction takes the lock on both nodes
    ?assertEqual(done, call(A, global, trans, [{edf_fp_lock, self_on_a}, fun() -> done end,
                                               [node_of(A), node_of(B)]])),
    %% global:send and a gen_server call through a global name
    ?assertEqual({echo, hi}, call(B, gen_server, call, [{global, edf_fp_global_a}, hi])),
    _ = call(A, global, unregister_name, [edf_fp_global_a]),
    ok = call(B, global, sync, []),
    ?assertEqual(undefined, call(B, global, whereis_name, [edf_fp_global_a])),
    no_refusals(Config).

pg_groups(Config) ->
    {A, B} = peers(Config),
    [{ok, _} = call(P, pg, start, [pg]) || P <- [A, B]],
    pong = call(A, net_adm, ping, [node_of(B)]),
    PidA = call(A, ?MODULE, pg_join, [edf_fp_group, 1]),
    PidB = call(B, ?MODULE, pg_join, [edf_fp_group, 1]),
    Both = lists:sort(PidA ++ PidB),
    ?assertEqual(Both, call(A, ?MODULE, await_members, [edf_fp_group, 2, ?TIMEOUT])),
    ?assertEqual(Both, call(B, ?MODULE, await_members, [edf_fp_group, 2, ?TIMEOUT])),
    no_refusals(Config).

gen_server_calls_to_user_processes(Config) ->
    {A, B} = peers(Config),
    Pid = call(B, ?MODULE, start_server, [edf_fp_server]),
    ?assertEqual({echo, by_name}, call(A, gen_server, call, [{edf_fp_server, node_of(B)}, by_name])),
    ?assertEqual({echo, by_pid}, call(A, gen_server, call, [Pid, by_pid])),
    ok = call(A, gen_server, cast, [{edf_fp_server, node_of(B)}, a_cast]),
    ?assertEqual({echo, after_cast}, call(A, gen_server, call, [Pid, after_cast])),
    no_refusals(Config).

%% Allowlisted functions run; others are refused, and this is what the
%% caller sees.
allowlisted_erpc_and_rpc(Config) ->
    {A, B} = peers(Config),
    NodeB = node_of(B),
    ?assertEqual(NodeB, call(A, erpc, call, [NodeB, erlang, node, []])),
    ?assertEqual([{ok, NodeB}], call(A, erpc, multicall, [[NodeB], erlang, node, []])),
    Release = erlang:system_info(otp_release),
    ?assertEqual(Release, call(A, rpc, call, [NodeB, erlang, system_info, [otp_release]])),
    ?assertMatch({_, _}, call(A, rpc, call, [NodeB, erlang, statistics, [wall_clock]])),
    ?assertEqual(ok, call(A, erpc, cast, [NodeB, erlang, nodes, []])),
    %% Judged with their arguments: the safe items run, over erpc and rex.
    ?assert(is_integer(call(A, erpc, call, [NodeB, erlang, system_info, [process_count]]))),
    ?assertEqual([node_of(A)], call(A, erpc, call, [NodeB, erlang, nodes, [connected]])),
    ?assertEqual(Release, call(A, rpc, block_call, [NodeB, erlang, system_info, [otp_release]])),
    no_refusals(Config),
    %% An allowlisted function with an argument that leaks (every
    %% process's state, the cookie included) is refused.
    ?assertEqual({exit, {exception, unauthorized}},
                 call(A, ?MODULE, catch_apply, [erpc, call, [NodeB, erlang, system_info, [procs]]])),
    ?assertEqual({ok, {badrpc, {'EXIT', unauthorized}}},
                 call(A, ?MODULE, catch_apply, [rpc, block_call, [NodeB, erlang, system_info, [procs]]])),
    %% Off the allowlist: erpc raises exit {exception, unauthorized}, rpc
    %% returns {badrpc, {'EXIT', unauthorized}}; the node stays up.
    ?assertEqual({exit, {exception, unauthorized}},
                 call(A, ?MODULE, catch_apply, [erpc, call, [NodeB, erlang, halt, [1]]])),
    ?assertEqual({ok, {badrpc, {'EXIT', unauthorized}}},
                 call(A, ?MODULE, catch_apply, [rpc, call, [NodeB, os, cmd, ["true"]]])),
    ?assertEqual([{exit, {exception, unauthorized}}],
                 call(A, erpc, multicall, [[NodeB], erlang, halt, [1]])),
    ?assertEqual(NodeB, call(A, erpc, call, [NodeB, erlang, node, []])).

%% The allowlist is read at every decision: loosening it in the
%% application environment applies at once.
allowlist_from_app_env(Config) ->
    {A, B} = peers(Config),
    NodeB = node_of(B),
    ?assertEqual({exit, {exception, unauthorized}},
                 call(A, ?MODULE, catch_apply, [erpc, call, [NodeB, lists, reverse, [[1, 2, 3]]]])),
    Spawn = erldist_filter_policy:default_spawn() ++ [{lists, reverse, 1}],
    ok = call(B, application, set_env, [erldist_filter, policy, #{spawn => Spawn}]),
    ?assertEqual([3, 2, 1], call(A, erpc, call, [NodeB, lists, reverse, [[1, 2, 3]]])),
    %% per node: only A may
    ok = call(B, application, set_env, [erldist_filter, policy,
                                        #{spawn => #{'_' => [], node_of(A) => [{lists, reverse, '_'}]}}]),
    ?assertEqual([2, 1], call(A, erpc, call, [NodeB, lists, reverse, [[1, 2]]])),
    ?assertEqual({exit, {exception, unauthorized}},
                 call(A, ?MODULE, catch_apply, [erpc, call, [NodeB, erlang, node, []]])).

net_adm_ping(Config) ->
    {A, B} = peers(Config),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])),
    ?assertEqual(pong, call(B, net_adm, ping, [node_of(A)])),
    ?assertEqual([node_of(B)], call(A, erlang, nodes, [])),
    no_refusals(Config).

remote_monitor(Config) ->
    {A, B} = peers(Config),
    Pid = call(B, ?MODULE, start_server, [edf_fp_monitored]),
    ?assertEqual({'DOWN', process, edf_fp_bye}, call(A, ?MODULE, monitor_and_kill, [Pid, edf_fp_bye])),
    _ = call(B, ?MODULE, start_server, [edf_fp_named]),
    ?assertEqual({'DOWN', {edf_fp_named, node_of(B)}, edf_fp_bye},
                 call(A, ?MODULE, monitor_name, [{edf_fp_named, node_of(B)}, edf_fp_bye])),
    no_refusals(Config).

%% SPEC decision 8: with inspection on, LINK (and link EXITs) are always
%% dropped. A remote link is never set up: the process on B has no link,
%% and no EXIT reaches A when it dies (a monitor still reports it).
remote_link_is_dropped(Config) ->
    {A, B} = peers(Config),
    Pid = call(B, ?MODULE, start_server, [edf_fp_linked]),
    ?assertMatch({[], edf_fp_bye, no_exit}, call(A, ?MODULE, link_and_kill, [Pid])),
    #{channel := #{rx_stats := #{dop_link := #{seen := Seen, drop := Dropped}}}} =
        call(B, erldist_filter_nif, world_stats_get, []),
    ?assert(Seen >= 1 andalso Dropped >= 1).

%% An I/O request to another node's I/O server is refused there and
%% answered `{error, enotsup}'; that answer, an `io_reply' to an ordinary
%% process here, is delivered (a requester never hangs on it), and so is
%% any io_reply to an ordinary process (a remote shell's I/O, a peer
%% answering our request). An io_reply to an I/O server (`user') is not.
refused_io_request_is_answered(Config) ->
    {A, B} = peers(Config),
    UserB = call(B, erlang, whereis, [user]),
    ?assertEqual({error, enotsup},
                 call(A, ?MODULE, io_request_from_here, [UserB, {put_chars, unicode, <<"edf fp\n">>}])),
    ?assertMatch([#{reason := io_request, to := UserB}], refusals(B)),
    ?assertEqual([], refusals(A)),
    %% A process on A waiting for an io_reply gets it from B.
    {Waiter, ReplyAs} = call(A, ?MODULE, await_io_reply_start, [?TIMEOUT]),
    _ = call(B, erlang, send, [Waiter, {io_reply, ReplyAs, ok}]),
    ?assertEqual({io_reply, ReplyAs, ok}, call(A, ?MODULE, await_io_reply, [Waiter, ReplyAs])),
    ?assertEqual([], refusals(A)),
    %% Not to an I/O server.
    ok = call(A, edf_test_evasion, decisions_start, []),
    UserA = call(A, erlang, whereis, [user]),
    _ = call(B, erlang, send, [UserA, {io_reply, make_ref(), ok}]),
    ?assertMatch(#{reason := io_reply},
                 call(A, edf_test_evasion, await_drop, [node_of(B), UserA, ?TIMEOUT])).

%%% Helpers (test node)

app_dir() ->
    filename:dirname(code:where_is_file("erldist_filter.app")).

peers(Config) -> {?config(a, Config), ?config(b, Config)}.
node_of(#{node := Node}) -> Node.
call(#{pid := Pid}, M, F, A) -> peer:call(Pid, M, F, A, ?TIMEOUT).

refusals(Peer) ->
    [E || E = #{what := erldist_filter_policy, decision := drop}
              <- call(Peer, edf_test_attacker, capture_events, [])].

no_refusals(Config) ->
    {A, B} = peers(Config),
    ?assertEqual({[], []}, {refusals(A), refusals(B)}).

%%% Helpers (peers)

%% @private
setup(AppDir) ->
    true = code:add_pathz(AppDir),
    {ok, _} = application:ensure_all_started(erldist_filter),
    erldist_filter_policy = erldist_filter:handler_get(),
    ok = edf_test_attacker:capture_start().

%% @private A registered process answering gen_server calls (not linked).
start_server(Name) ->
    Pid = spawn(?MODULE, server, []),
    true = register(Name, Pid),
    Pid.

%% @private
server() ->
    receive
        {'$gen_call', From, process_links} -> gen:reply(From, process_info(self(), links)), server();
        {'$gen_call', From, Req} -> gen:reply(From, {echo, Req}), server();
        {'$gen_cast', _} -> server();
        {stop, Reason} -> exit(Reason);
        _ -> server()
    end.

%% @private
global_register(Name) ->
    Pid = spawn(?MODULE, server, []),
    yes = global:register_name(Name, Pid),
    Pid.

%% @private
pg_join(Group, N) ->
    Pids = [spawn(?MODULE, server, []) || _ <- lists:seq(1, N)],
    ok = pg:join(Group, Pids),
    Pids.

%% @private
await_members(Group, N, Timeout) when Timeout > 0 ->
    case lists:sort(pg:get_members(Group)) of
        Members when length(Members) >= N -> Members;
        _ -> timer:sleep(50), await_members(Group, N, Timeout - 50)
    end;
await_members(Group, _N, _Timeout) ->
    {timeout, pg:get_members(Group)}.

%% @private
monitor_and_kill(Pid, Reason) ->
    MRef = erlang:monitor(process, Pid),
    Pid ! {stop, Reason},
    receive {'DOWN', MRef, process, Pid, R} -> {'DOWN', process, R}
    after ?TIMEOUT -> timeout
    end.

%% @private
monitor_name({Name, Node} = Target, Reason) ->
    MRef = erlang:monitor(process, Target),
    {Name, Node} ! {stop, Reason},
    receive {'DOWN', MRef, process, Who, R} -> {'DOWN', Who, R}
    after ?TIMEOUT -> timeout
    end.

%% @private Link to `Pid' (on another node), ask it for its links (the
%% LINK would arrive before the call), stop it; `{ItsLinks, DownReason,
%% no_exit | {exit, Reason}}'. EXITs come before the DOWN.
link_and_kill(Pid) ->
    process_flag(trap_exit, true),
    MRef = erlang:monitor(process, Pid),
    true = link(Pid),
    {echo, links} = gen_server:call(Pid, links),
    {links, Links} = gen_server:call(Pid, process_links),
    Pid ! {stop, edf_fp_bye},
    Reason = receive {'DOWN', MRef, process, Pid, R} -> R after ?TIMEOUT -> timeout end,
    Exit = receive {'EXIT', Pid, E} -> {exit, E} after 0 -> no_exit end,
    {Links, Reason, Exit}.

%% @private An I/O request from a fresh (ordinary) process here to `Pid'
%% (on another node): its answer, or `timeout'.
io_request_from_here(Pid, Request) ->
    Self = self(),
    Ref = make_ref(),
    Requester = spawn(fun() -> Self ! {Ref, io:request(Pid, Request)} end),
    receive {Ref, Reply} -> Reply
    after ?TIMEOUT -> exit(Requester, kill), timeout
    end.

%% @private A fresh process waiting for `{io_reply, ReplyAs, _}' (it
%% stays until asked): `{Pid, ReplyAs}'.
await_io_reply_start(Timeout) ->
    ReplyAs = make_ref(),
    Pid = spawn(fun() ->
                        Got = receive {io_reply, ReplyAs, _} = R -> R after Timeout -> timeout end,
                        receive {get, From, Ref} -> From ! {Ref, Got} end
                end),
    {Pid, ReplyAs}.

%% @private What the waiter got.
await_io_reply(Pid, _ReplyAs) ->
    Ref = make_ref(),
    Pid ! {get, self(), Ref},
    receive {Ref, Got} -> Got after ?TIMEOUT -> timeout end.

%% @private
catch_apply(M, F, A) ->
    try erlang:apply(M, F, A) of
        Result -> {ok, Result}
    catch
        Class:Reason -> {Class, Reason}
    end.

%%% Operator connections (`erldist_filter_operator') with real peers on
%%% loopback: a victim under the safe policy with `operators' set to
%%% `{loopback, ["ops*"]}', a peer named `ops…' and one named `other…'.
%%% The release tools themselves are in `erldist_filter_release_SUITE'
%%% (and the non-loopback address there). Last, the same over TLS with
%%% `{peer_cert, cn, <<"edf_ops">>}': the certificate, not the name.
-module(erldist_filter_operator_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0]).
-export([init_per_testcase/2, end_per_testcase/2]).

-export([rules_are_checked/1]).
-export([operator_keeps_everything_others_refused/1]).
-export([operators_apply_at_once/1]).
-export([erl_call_rex_request_is_answered/1]).
-export([certificate_operator_over_tls/1]).
-export([ipv6_loopback_operator/1]).
-export([dynamic_name_operator/1]).

%% Run on the peers.
-export([setup/1]).
-export([erpc_call/3]).
-export([rex_call/3]).

-define(TIMEOUT, 20000).

suite() ->
    [{timetrap, {minutes, 1}}].

all() ->
    [rules_are_checked, operator_keeps_everything_others_refused, operators_apply_at_once,
     erl_call_rex_request_is_answered, certificate_operator_over_tls, ipv6_loopback_operator,
     dynamic_name_operator].

init_per_testcase(rules_are_checked, Config) ->
    Config;
init_per_testcase(certificate_operator_over_tls, Config) ->
    Dir = filename:join(?config(priv_dir, Config), "tls"),
    Ca = edf_test_tls:ca(Dir, "edf-cluster"),
    Tls = fun(Role, Carrier) ->
                  #{carrier => Carrier, prefix => Role,
                    ssl_dist_optfile => edf_test_tls:node_optfile(Ca, Role, Dir)}
          end,
    %% The other peer is named like an operator: the name does not count.
    start_peers(Config, "[{peer_cert,cn,<<\"edf_ops\">>}]",
                (Tls("edf_victim", filter_inet_tls)),
                (Tls("edf_ops", stock_inet_tls))#{prefix => "other"},
                (Tls("edf_other", stock_inet_tls))#{prefix => "edf_ops"});
init_per_testcase(ipv6_loopback_operator, Config) ->
    start_peers(Config, "[{loopback,[\"ops*\"]}]", #{prefix => "victim", carrier => filter_inet6},
                #{prefix => "ops", carrier => filter_inet6}, #{prefix => "other", carrier => filter_inet6});
init_per_testcase(dynamic_name_operator, Config) ->
    case os:find_executable("erl_call", filename:join(code:lib_dir(erl_interface), "bin")) of
        false ->
            {fail, no_erl_call};
        _ ->
            start_peers(Config, "[{loopback,[dynamic]}]", #{prefix => "victim"},
                        #{prefix => "ops", carrier => stock_inet}, #{prefix => "other", carrier => stock_inet})
    end;
init_per_testcase(_Case, Config) ->
    start_peers(Config, "[{loopback,[\"ops*\"]}]", #{prefix => "victim"},
                #{prefix => "ops", carrier => stock_inet}, #{prefix => "other", carrier => stock_inet}).

start_peers(Config, Operators, Victim, Ops, Other) ->
    Args = ["-erldist_filter", "safe_policy", "true", "-erldist_filter", "operators", Operators],
    {ok, V} = edf_test_peer:start(Victim#{args => Args}),
    ok = call(V, ?MODULE, setup, [filename:dirname(code:where_is_file("erldist_filter.app"))]),
    {ok, O} = edf_test_peer:start(Ops),
    {ok, X} = edf_test_peer:start(Other),
    [{victim, V}, {ops, O}, {other, X} | Config].

end_per_testcase(rules_are_checked, _Config) ->
    ok;
end_per_testcase(_Case, Config) ->
    edf_test_peer:stop_all([?config(P, Config) || P <- [victim, ops, other]]).

%%% Test cases

rules_are_checked(_Config) ->
    [?assert(erldist_filter_operator:check(R))
     || R <- [[], [release_tools], [{loopback, ["rpc-*", <<"rem-*">>]}], [{peer_cert, cn, <<"ops">>}],
              [{loopback, [dynamic]}], [{loopback, ["maint*", dynamic]}]]],
    [?assertNot(erldist_filter_operator:check(R))
     || R <- [release_tools, [{loopback, []}], [{loopback, "rpc-*"}], [{loopback, [rpc]}],
              [{'rpc-1@127.0.0.1'}], [loopback], [{loopback, dynamic}], [dynamic]]],
    %% Loaded already when an earlier suite of the same run started it.
    case application:load(erldist_filter) of
        ok -> ok;
        {error, {already_loaded, erldist_filter}} -> ok
    end,
    try
        ok = application:set_env(erldist_filter, operators, [{loopback, "rpc-*"}]),
        ?assertMatch({error, {invalid_config, operators, [{loopback, "rpc-*"}], _}},
                     erldist_filter_config:check()),
        ok = application:set_env(erldist_filter, operators, [release_tools]),
        ?assertEqual(ok, erldist_filter_config:check())
    after
        application:unset_env(erldist_filter, operators)
    end,
    %% Not connected: no address, no operator.
    ?assertNot(erldist_filter_operator:is_operator('rpc-1@127.0.0.1', [release_tools])).

operator_keeps_everything_others_refused(Config) ->
    V = node_of(?config(victim, Config)),
    VPid = call(?config(victim, Config), os, getpid, []),
    ?assertEqual(VPid, call(?config(ops, Config), ?MODULE, erpc_call, [V, os, getpid])),
    ?assertEqual(VPid, call(?config(ops, Config), rpc, call, [V, os, getpid, []])),
    ?assertEqual({'EXIT', {exception, unauthorized}},
                 call(?config(other, Config), ?MODULE, erpc_call, [V, os, getpid])),
    ?assertEqual({badrpc, {'EXIT', unauthorized}},
                 call(?config(other, Config), rpc, call, [V, os, getpid, []])),
    %% The operator is connected from loopback and named ops…; the other
    %% only differs by its name.
    Ops = node_of(?config(ops, Config)),
    ?assert(call(?config(victim, Config), erldist_filter_operator, is_operator, [Ops])),
    ?assertNot(call(?config(victim, Config), erldist_filter_operator, is_operator,
                    [node_of(?config(other, Config))])).

operators_apply_at_once(Config) ->
    V = node_of(?config(victim, Config)),
    VPid = call(?config(victim, Config), os, getpid, []),
    ?assertEqual(VPid, call(?config(ops, Config), ?MODULE, erpc_call, [V, os, getpid])),
    ok = call(?config(victim, Config), application, set_env, [erldist_filter, operators, []]),
    ?assertEqual({'EXIT', {exception, unauthorized}},
                 call(?config(ops, Config), ?MODULE, erpc_call, [V, os, getpid])).

%% erl_call's form of a rex call, `{From, {call, M, F, A, Gl}}': refused
%% for the other peer with an answer (erl_call waits for it), run for the
%% operator.
erl_call_rex_request_is_answered(Config) ->
    V = node_of(?config(victim, Config)),
    VPid = call(?config(victim, Config), os, getpid, []),
    ?assertEqual({rex, {badrpc, {'EXIT', unauthorized}}},
                 call(?config(other, Config), ?MODULE, rex_call, [V, os, getpid])),
    ?assertEqual({rex, VPid}, call(?config(ops, Config), ?MODULE, rex_call, [V, os, getpid])).

certificate_operator_over_tls(Config) ->
    V = node_of(?config(victim, Config)),
    VPid = call(?config(victim, Config), os, getpid, []),
    ?assertEqual(VPid, call(?config(ops, Config), ?MODULE, erpc_call, [V, os, getpid])),
    ?assertEqual({'EXIT', {exception, unauthorized}},
                 call(?config(other, Config), ?MODULE, erpc_call, [V, os, getpid])).

%% `::1' is loopback too.
ipv6_loopback_operator(Config) ->
    operator_keeps_everything_others_refused(Config).

%% `dynamic': the name this node made up for a peer that asked for one
%% (erl_call -R) makes an operator; erl_call with a name of its own (-r,
%% c<N>) and a peer named ops… (a name pattern would have matched) are
%% refused, with an answer. erl_call reaches the victim by its port.
dynamic_name_operator(Config) ->
    Victim = ?config(victim, Config),
    VPid = call(Victim, os, getpid, []),
    ?assertEqual({0, "\"" ++ VPid ++ "\""}, erl_call(Victim, "-R", "os getpid")),
    ?assertEqual({0, "{badrpc, {'EXIT', unauthorized}}"}, erl_call(Victim, "-r", "os getpid")),
    ?assertEqual({'EXIT', {exception, unauthorized}},
                 call(?config(ops, Config), ?MODULE, erpc_call, [node_of(Victim), os, getpid])),
    %% A static name from loopback is no operator under `dynamic'.
    ?assertNot(call(Victim, erldist_filter_operator, is_operator, [node_of(?config(ops, Config))])).

%%% On the peers

%% @private
setup(AppDir) ->
    true = code:add_pathz(AppDir),
    {ok, _} = application:ensure_all_started(erldist_filter),
    erldist_filter_policy = erldist_filter:handler_get(),
    ok.

%% @private
erpc_call(Node, M, F) ->
    try erpc:call(Node, M, F, [])
    catch
        error:Reason -> {'EXIT', Reason};
        exit:Reason -> {'EXIT', Reason};
        throw:Thrown -> Thrown
    end.

%% @private
rex_call(Node, M, F) ->
    {rex, Node} ! {self(), {call, M, F, [], user}},
    receive
        {rex, _} = Reply -> Reply
    after ?TIMEOUT -> no_reply
    end.

%%% Helpers

node_of(#{node := Node}) -> Node.

%% `erl_call NameOption -a "Apply"' against `Victim' (found by its port:
%% the name carries it), cookie edf_test.
erl_call(#{node := Victim}, NameOption, Apply) ->
    ErlCall = filename:join([code:lib_dir(erl_interface), "bin", "erl_call"]),
    Port = edf_test_epmd:port_of(hd(string:split(atom_to_list(Victim), "@"))),
    Command = lists:flatten(io_lib:format("~ts ~ts -c edf_test -address 127.0.0.1:~b -timeout 20 -a '~ts'",
                                          [ErlCall, NameOption, Port, Apply])),
    Result = edf_test_sh:run(".", Command, []),
    ct:log("~ts~n~p", [Command, Result]),
    Result.
call(#{pid := Pid}, M, F, A) -> peer:call(Pid, M, F, A, ?TIMEOUT).

%%% The TLS carrier (`-proto_dist erldist_filter_inet_tls') between real
%%% peer nodes, with mutual TLS: certificates from a CA this suite makes
%%% (`edf_test_tls', in the suite's priv_dir), every node verifying its
%%% peer and presenting its own.
%%%
%%% - `mutual_tls': the TCP suite's traffic cases (`erldist_filter_dist_SUITE'
%%%   runs them with our peers), and the peer's certificate identity as
%%%   handlers see it; also over IPv6, and with stock `inet_tls_dist'
%%%   nodes on the other side.
%%% - `trust': a node with a certificate from another CA cannot connect;
%%%   a policy that allows `erpc' only for one certificate subject refuses
%%%   a validly connected node with another.
%%% - `attacks': the talk's attacks (`erldist_filter_attacks_SUITE'),
%%%   from a stock `inet_tls' attacker holding a valid certificate, against
%%%   victims on the TLS carrier with the shipped safe policy: all blocked.
%%%   `attacks_break_glass': the same with inspection off succeed, so the
%%%   first group can fail over TLS too.
-module(erldist_filter_tls_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, groups/0, suite/0]).
-export([init_per_suite/1, end_per_suite/1]).
-export([init_per_group/2, end_per_group/2]).
-export([init_per_testcase/2, end_per_testcase/2]).

%% mutual_tls
-export([ping_both_ways/1]).
-export([random_terms_both_ways/1]).
-export([erpc_call/1]).
-export([idle_connection_survives_ticks/1]).
-export([peer_certificate_identity/1]).
-export([ipv6_ping_and_erpc/1]).
-export([ssl_dist_opt_arguments/1]).
-export([stock_tls_nodes_interoperate/1]).
%% trust
-export([other_ca_cannot_connect/1]).
-export([policy_allows_erpc_by_certificate_subject/1]).
%% attacks (erldist_filter_attacks_SUITE's cases)
-export([recursive_halt/1]).
-export([recursive_net_sup_shutdown/1]).
-export([flood/1]).
-export([forced_code_swap/1]).
-export([rex_cast_rce/1]).
-export([kernel_sup_rce/1]).
-export([standard_error_rce/1]).

%% Run on the peers
-export([start_policy/1]).
-export([erpc/4]).

-define(TIMEOUT, 60000).
-define(ATTACKS, erldist_filter_attacks_SUITE).
-define(DIST, erldist_filter_dist_SUITE).

suite() ->
    [{timetrap, {minutes, 5}}].

all() ->
    [{group, mutual_tls}, {group, trust}, {group, attacks}, {group, attacks_break_glass}].

groups() ->
    [{mutual_tls, [], [ping_both_ways, random_terms_both_ways, erpc_call,
                       idle_connection_survives_ticks, peer_certificate_identity,
                       ipv6_ping_and_erpc, ssl_dist_opt_arguments,
                       stock_tls_nodes_interoperate]},
     {trust, [], [other_ca_cannot_connect, policy_allows_erpc_by_certificate_subject]},
     {attacks, [], edf_test_attacker:attacks()},
     {attacks_break_glass, [], edf_test_attacker:attacks()}].

%% One CA for the cluster, one the cluster does not trust; a certificate
%% (and optfile) per role, subject `CN=<role>'.
init_per_suite(Config) ->
    Dir = filename:join(?config(priv_dir, Config), "tls"),
    Ca = edf_test_tls:ca(Dir, "edf-cluster"),
    Rogue = edf_test_tls:ca(filename:join(Dir, "rogue"), "edf-rogue"),
    Optfiles = maps:from_list(
                 [{Role, edf_test_tls:node_optfile(Ca, atom_to_list(Role), Dir)}
                  || Role <- [edf_a, edf_b, edf_victim, edf_attacker]]
                 ++ [{edf_rogue, edf_test_tls:node_optfile(Rogue, "edf_rogue",
                                                           filename:join(Dir, "rogue"))}]),
    [{optfiles, Optfiles} | Config].

end_per_suite(_Config) ->
    ok.

init_per_group(Group, Config) when Group =:= attacks; Group =:= attacks_break_glass ->
    Mode = case Group of attacks -> safe_policy; attacks_break_glass -> break_glass end,
    [{mode, Mode},
     {victim_peer, tls_peer(filter_inet_tls, edf_victim, Config)},
     {attacker_peer, tls_peer(stock_inet_tls, edf_attacker, Config)} | Config];
init_per_group(_Group, Config) ->
    Config.

end_per_group(_Group, _Config) ->
    ok.

init_per_testcase(Case, Config) ->
    case lists:member(Case, edf_test_attacker:attacks()) of
        true -> ?ATTACKS:init_per_testcase(Case, Config);
        false -> [{peers, start_peers(Case, Config)}, {carrier, filter_inet_tls} | Config]
    end.

end_per_testcase(Case, Config) ->
    case lists:member(Case, edf_test_attacker:attacks()) of
        true -> ?ATTACKS:end_per_testcase(Case, Config);
        false -> edf_test_peer:stop_all(?config(peers, Config))
    end.

%% Peers A and B (certificates edf_a, edf_b) on the TLS carrier, unless
%% the case wants others.
start_peers(Case, Config) ->
    [start(Peer) || Peer <- peers_for(Case, Config)].

peers_for(idle_connection_survives_ticks, Config) ->
    [(tls_peer(filter_inet_tls, Role, Config))#{net_ticktime => 4} || Role <- [edf_a, edf_b]];
peers_for(ipv6_ping_and_erpc, Config) ->
    [tls_peer(filter_inet6_tls, Role, Config) || Role <- [edf_a, edf_b]];
peers_for(ssl_dist_opt_arguments, Config) ->
    [A, B] = [tls_peer(filter_inet_tls, Role, Config) || Role <- [edf_a, edf_b]],
    [maps:remove(ssl_dist_optfile, A#{args => ssl_dist_opt_args(optfile(edf_a, Config))}), B];
peers_for(stock_tls_nodes_interoperate, Config) ->
    [tls_peer(filter_inet_tls, edf_a, Config), tls_peer(stock_inet_tls, edf_b, Config)];
peers_for(other_ca_cannot_connect, Config) ->
    [tls_peer(filter_inet_tls, edf_a, Config), tls_peer(filter_inet_tls, edf_rogue, Config)];
peers_for(policy_allows_erpc_by_certificate_subject, Config) ->
    Victim = tls_peer(filter_inet_tls, edf_victim, Config),
    [Victim#{args => ["-erldist_filter", "safe_policy", "true"]}
     | [tls_peer(filter_inet_tls, Role, Config) || Role <- [edf_a, edf_b]]];
peers_for(_Case, Config) ->
    [tls_peer(filter_inet_tls, Role, Config) || Role <- [edf_a, edf_b]].

tls_peer(Carrier, Role, Config) ->
    #{carrier => Carrier, prefix => atom_to_list(Role),
      ssl_dist_optfile => maps:get(Role, ?config(optfiles, Config))}.

start(Options) ->
    {ok, Peer} = edf_test_peer:start(Options),
    Peer.

%%% mutual_tls

ping_both_ways(Config) ->
    ?DIST:ping_both_ways(Config).

%% Includes messages over the fragment size, so fragmented ones.
random_terms_both_ways(Config) ->
    ?DIST:random_terms_both_ways(Config).

erpc_call(Config) ->
    ?DIST:erpc_call(Config).

%% Ticks pass the TLS connection and the filter both ways (net_ticktime 4,
%% 10 s idle).
idle_connection_survives_ticks(Config) ->
    ?DIST:idle_connection_survives_ticks(Config).

%% Each side sees the other's certificate, not only its node name; the
%% entry goes with the connection.
peer_certificate_identity(Config) ->
    [A, B] = ?config(peers, Config),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])),
    {ok, #{subject := SubjectB, subject_alt_names := AltNames, certificate := Der}} =
        call(A, erldist_filter, peer_certificate, [node_of(B)]),
    ?assertEqual([{cn, <<"edf_b">>}, {o, <<"edf test">>}], SubjectB),
    ?assert(lists:member({ip, {127, 0, 0, 1}}, AltNames)),
    {ok, BCertPem} = file:read_file(filename:rootname(optfile(edf_b, Config)) ++ ".crt"),
    ?assertMatch([{'Certificate', Der, not_encrypted}], public_key:pem_decode(BCertPem)),
    {ok, #{subject := SubjectA}} = call(B, erldist_filter, peer_certificate, [node_of(A)]),
    ?assertEqual([{cn, <<"edf_a">>}, {o, <<"edf test">>}], SubjectA),
    true = call(A, erlang, disconnect_node, [node_of(B)]),
    ?assertEqual(undefined, wait_for(fun() -> call(A, erldist_filter, peer_certificate,
                                                   [node_of(B)])
                                     end, undefined)).

ipv6_ping_and_erpc(Config) ->
    [A, B] = ?config(peers, Config),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])),
    ?assertEqual(node_of(A), call(B, erpc, call, [node_of(A), erlang, node, []])).

%% A is configured with `-ssl_dist_opt' instead of an optfile (the same
%% options); the mutual TLS handshake works both ways, and A checks B's
%% certificate as configured.
ssl_dist_opt_arguments(Config) ->
    [A, B] = ?config(peers, Config),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])),
    {ok, #{subject := [{cn, <<"edf_b">>} | _]}} =
        call(A, erldist_filter, peer_certificate, [node_of(B)]),
    true = call(A, erlang, disconnect_node, [node_of(B)]),
    %% B connects anew once it has seen the old connection go (a ping over
    %% the one being torn down could fail)
    ?assertEqual(false, wait_for(fun() -> lists:member(node_of(A), call(B, erlang, nodes, [])) end,
                                 false)),
    ?assertEqual(pong, call(B, net_adm, ping, [node_of(A)])).

%% The optfile's options as `-ssl_dist_opt server_certfile F ...'.
ssl_dist_opt_args(OptFile) ->
    {ok, [Roles]} = file:consult(OptFile),
    ["-ssl_dist_opt"
     | lists:append([[atom_to_list(Role) ++ "_" ++ atom_to_list(Key), arg(Value)]
                     || {Role, Opts} <- Roles, {Key, Value} <- Opts])].

arg(Value) when is_atom(Value) -> atom_to_list(Value);
arg(Value) when is_list(Value) -> Value.

%% A (ours) and B (stock `inet_tls_dist') connect both ways and exchange
%% the random terms.
stock_tls_nodes_interoperate(Config) ->
    [A, B] = ?config(peers, Config),
    ?assertEqual(pong, call(B, net_adm, ping, [node_of(A)])),
    ?DIST:random_terms_both_ways(Config),
    true = call(A, erlang, disconnect_node, [node_of(B)]),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])),
    ?DIST:erpc_call(Config).

%%% trust

%% The rogue node's certificate is valid, but from a CA the cluster does
%% not trust: neither direction connects.
other_ca_cannot_connect(Config) ->
    [A, Rogue] = ?config(peers, Config),
    ?assertEqual(pang, call(Rogue, net_adm, ping, [node_of(A)])),
    ?assertEqual(pang, call(A, net_adm, ping, [node_of(Rogue)])),
    ?assertEqual([], call(A, erlang, nodes, [])),
    ?assertEqual([], call(Rogue, erlang, nodes, [])).

%% The victim's policy allows `erlang:node/0' only to the holder of the
%% `edf_a' certificate. B is connected (valid certificate), yet refused.
policy_allows_erpc_by_certificate_subject(Config) ->
    [V, A, B] = ?config(peers, Config),
    Policy = #{spawn => #{{peer_cert, cn, <<"edf_a">>} => [{erlang, node, 0}]}},
    ok = call(V, ?MODULE, start_policy, [Policy]),
    ?assertEqual(node_of(V), call(A, ?MODULE, erpc, [node_of(V), erlang, node, []])),
    ?assertEqual({exit, {exception, unauthorized}},
                 call(B, ?MODULE, erpc, [node_of(V), erlang, node, []])),
    ?assertEqual(lists:sort([node_of(A), node_of(B)]), lists:sort(call(V, erlang, nodes, []))),
    %% The subject, not the name: B as a node-name key would not do it.
    {ok, #{subject := [{cn, <<"edf_b">>} | _]}} =
        call(V, erldist_filter, peer_certificate, [node_of(B)]).

%%% attacks

recursive_halt(Config) -> ?ATTACKS:recursive_halt(Config).
recursive_net_sup_shutdown(Config) -> ?ATTACKS:recursive_net_sup_shutdown(Config).
flood(Config) -> ?ATTACKS:flood(Config).
forced_code_swap(Config) -> ?ATTACKS:forced_code_swap(Config).
rex_cast_rce(Config) -> ?ATTACKS:rex_cast_rce(Config).
kernel_sup_rce(Config) -> ?ATTACKS:kernel_sup_rce(Config).
standard_error_rce(Config) -> ?ATTACKS:standard_error_rce(Config).

%%% Helpers

node_of(#{node := Node}) -> Node.

optfile(Role, Config) -> maps:get(Role, ?config(optfiles, Config)).

call(#{pid := Pid}, M, F, A) ->
    peer:call(Pid, M, F, A, ?TIMEOUT).

%% Poll until `Fun' returns `Expected' (the identity table learns of the
%% disconnect from a monitor on another node's process).
wait_for(Fun, Expected) ->
    wait_for(Fun, Expected, 100).

wait_for(Fun, _Expected, 0) ->
    Fun();
wait_for(Fun, Expected, N) ->
    case Fun() of
        Expected -> Expected;
        _ -> timer:sleep(50), wait_for(Fun, Expected, N - 1)
    end.

%%% Run on the peers

%% @private The safe policy (on since boot) with `Policy' as its
%% configuration, and the application's routers running.
start_policy(Policy) ->
    {ok, _} = application:ensure_all_started(erldist_filter),
    ok = application:set_env(erldist_filter, policy, Policy),
    erldist_filter_policy = erldist_filter:handler_get(),
    ok.

%% @private `erpc:call/4' with its exception as a value, so that a refusal
%% can be asserted.
erpc(Node, M, F, A) ->
    try erpc:call(Node, M, F, A, ?TIMEOUT)
    catch Class:Reason -> {Class, Reason}
    end.

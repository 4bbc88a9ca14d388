%%% Application environment applies from the first connection (SPEC
%%% decision 2), and with deep packet inspection on and no handler, OTP's
%%% ordinary traffic still flows between real peers while links are dropped
%%% and spawn requests go through edf:req/3.
-module(erldist_filter_env_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, init_per_testcase/2, end_per_testcase/2]).
-export([env_applies_from_the_first_connection/1]).
-export([inspection_keeps_ordinary_traffic_working/1]).
-export([start_echo/0]).

all() ->
    [env_applies_from_the_first_connection, inspection_keeps_ordinary_traffic_working].

init_per_testcase(_Case, Config) ->
    Env = ["-erldist_filter", "config", "#{deep_packet_inspection => true, bogus_switch => true}",
           "-erldist_filter", "limits", "[{max_sequences, 7}]",
           "-erldist_filter", "logger_capacity", "50"],
    {ok, B} = edf_test_peer:start(#{prefix => "envb", args => Env}),
    {ok, A} = edf_test_peer:start(#{prefix => "enva"}),
    [{a, A}, {b, B} | Config].

end_per_testcase(_Case, Config) ->
    edf_test_peer:stop_all([?config(a, Config), ?config(b, Config)]).

env_applies_from_the_first_connection(Config) ->
    #{pid := A} = ?config(a, Config),
    #{pid := B, node := BNode} = ?config(b, Config),
    %% Nothing has loaded the NIF on B before its first connection...
    ?assertEqual(false, peer:call(B, code, is_loaded, [erldist_filter_nif])),
    pong = peer:call(A, net_adm, ping, [BNode]),
    %% ...and the first connection found the settings already applied; the
    %% bad switch was skipped without stopping the rest.
    ?assert(peer:call(B, erldist_filter_nif, config_get, [deep_packet_inspection])),
    ?assertEqual(7, peer:call(B, erldist_filter_nif, limits_get, [max_sequences])),
    ?assertEqual(50, peer:call(B, erldist_filter_nif, logger_set_capacity, [50])).

inspection_keeps_ordinary_traffic_working(Config) ->
    #{pid := A} = ?config(a, Config),
    #{pid := B, node := BNode} = ?config(b, Config),
    Echo = peer:call(B, ?MODULE, start_echo, []),
    %% gen_server calls (monitor + alias reply) and plain sends
    ?assertEqual({echo, hello}, peer:call(A, gen_server, call, [{edf_env_echo, BNode}, hello])),
    %% erpc: the spawn request is redirected through edf:req/3 and, with no
    %% handler set, still runs (decision 1)
    ?assertEqual(BNode, peer:call(A, erpc, call, [BNode, erlang, node, []])),
    %% a remote link never reaches B
    ok = peer:call(A, erlang, apply, [fun() -> true = link(Echo), ok end, []]),
    %% a call after it on the same connection: once answered, B has read
    %% the link too (frames are handled in order)
    ?assertEqual({echo, sync}, peer:call(A, gen_server, call, [{edf_env_echo, BNode}, sync])),
    Rx = rx_stats(B),
    ?assertMatch(#{seen := 1, drop := 1}, maps:get(dop_link, Rx)),
    ?assertMatch({links, []}, peer:call(B, erlang, process_info, [Echo, links])),
    #{redirect := Redirected} = maps:get(dop_spawn_request, Rx),
    ?assert(Redirected >= 1),
    %% monitors pass untouched
    ?assertMatch(#{seen := N, emit := N} when N >= 1, maps:get(dop_monitor_p, Rx)).

rx_stats(Peer) ->
    #{channel := #{rx_stats := Rx}} = peer:call(Peer, erldist_filter_nif, world_stats_get, []),
    Rx.

%% @private A registered process answering `gen_server' calls.
start_echo() ->
    Pid = spawn(fun echo/0),
    true = register(edf_env_echo, Pid),
    Pid.

echo() ->
    receive
        {'$gen_call', From, Req} ->
            gen:reply(From, {echo, Req}),
            echo();
        _ ->
            echo()
    end.

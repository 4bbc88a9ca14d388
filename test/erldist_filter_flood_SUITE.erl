%%% Per-connection flood limits between real peers: a peer sending at ten
%%% times the allowed byte rate has its excess dropped (or is disconnected,
%%% by policy) while another peer's traffic through the same node is
%%% unaffected.
-module(erldist_filter_flood_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, init_per_testcase/2, end_per_testcase/2]).
-export([excess_is_dropped_and_other_peers_are_unaffected/1]).
-export([excess_closes_the_connection_under_the_close_policy/1]).
-export([start_sink/0, flood/3, flood_until_down/3, buffered/0]).

-define(RATE, 1048576).            % bytes per second allowed per peer
-define(CHUNK, 32768).             % one unfragmented message
-define(FLOOD_BYTES, 16777216).    % 16 MiB sent as fast as possible

all() ->
    [excess_is_dropped_and_other_peers_are_unaffected,
     excess_closes_the_connection_under_the_close_policy].

init_per_testcase(Case, Config) ->
    Policy = case Case of
                 excess_is_dropped_and_other_peers_are_unaffected -> "drop";
                 _ -> "close"
             end,
    Limits = "[{max_bytes_per_sec, " ++ integer_to_list(?RATE) ++ "}, {rate_policy, " ++ Policy ++ "}]",
    {ok, V} = edf_test_peer:start(#{prefix => "victim", args => ["-erldist_filter", "limits", Limits]}),
    {ok, F} = edf_test_peer:start(#{prefix => "flooder", carrier => stock_inet}),
    {ok, G} = edf_test_peer:start(#{prefix => "good"}),
    #{pid := VP} = V,
    _ = peer:call(VP, ?MODULE, start_sink, []),
    [{victim, V}, {flooder, F}, {good, G} | Config].

end_per_testcase(_Case, Config) ->
    edf_test_peer:stop_all([?config(K, Config) || K <- [victim, flooder, good]]).

excess_is_dropped_and_other_peers_are_unaffected(Config) ->
    #{pid := VP, node := V} = ?config(victim, Config),
    #{pid := FP, node := FNode} = ?config(flooder, Config),
    #{pid := GP} = ?config(good, Config),
    %% the good peer talks to the victim before, during and after
    ?assertEqual({ok, 0}, peer:call(GP, gen_server, call, [{edf_flood_sink, V}, {bytes_from, FNode}])),
    T0 = erlang:monotonic_time(millisecond),
    #{sent := Sent} = peer:call(FP, ?MODULE, flood, [V, ?FLOOD_BYTES, ?CHUNK], 60000),
    %% a round trip from the flooder itself: everything before it was handled
    {ok, Received} = peer:call(FP, gen_server, call, [{edf_flood_sink, V}, {bytes_from, FNode}]),
    Seconds = (erlang:monotonic_time(millisecond) - T0) / 1000,
    ct:pal("flood: sent ~b bytes in ~.2f s, the victim received ~b", [Sent, Seconds, Received]),
    ?assertEqual(?FLOOD_BYTES, Sent),
    %% at most one second's burst plus the rate over the elapsed time
    ?assert(Received =< ?RATE + trunc(?RATE * Seconds) + ?CHUNK),
    ?assert(Received > 0),
    ?assertEqual({ok, 0}, peer:call(GP, gen_server, call, [{edf_flood_sink, V}, {bytes_from, node_of(GP)}])),
    #{channel := #{rx_stats := Rx}} = peer:call(VP, erldist_filter_nif, world_stats_get, []),
    ?assert(maps:get(flood_drop_count, Rx) >= (?FLOOD_BYTES - Received) div (?CHUNK + 100)),
    %% nothing is held for anyone afterwards
    ?assertEqual([0], lists:usort(peer:call(VP, ?MODULE, buffered, []))),
    %% the connection stayed up
    ?assert(lists:member(FNode, peer:call(VP, erlang, nodes, []))).

excess_closes_the_connection_under_the_close_policy(Config) ->
    #{pid := VP, node := V} = ?config(victim, Config),
    #{pid := FP, node := FNode} = ?config(flooder, Config),
    #{pid := GP} = ?config(good, Config),
    %% the flooder sees its connection to the victim go down
    ?assertEqual(down, peer:call(FP, ?MODULE, flood_until_down, [V, 4 * ?RATE, ?CHUNK], 60000)),
    #{channel := #{rx_stats := Rx, destroy := Destroyed}} =
        peer:call(VP, erldist_filter_nif, world_stats_get, []),
    ?assert(maps:get(limit_hits, Rx) >= 1),
    ?assert(Destroyed >= 1),
    ?assert(peer:call(FP, gen_server, call, [{edf_flood_sink, V}, {bytes_from, FNode}]) =< {ok, 2 * ?RATE}),
    %% the good peer carries on
    ?assertEqual({ok, 0}, peer:call(GP, gen_server, call, [{edf_flood_sink, V}, {bytes_from, node_of(GP)}])).

node_of(Pid) -> peer:call(Pid, erlang, node, []).

%% @private On the victim: a registered process counting bytes per node.
start_sink() ->
    Pid = spawn(fun() -> sink(#{}) end),
    true = register(edf_flood_sink, Pid),
    Pid.

sink(Bytes) ->
    receive
        {chunk, Node, Bin} ->
            sink(maps:update_with(Node, fun(N) -> N + byte_size(Bin) end, byte_size(Bin), Bytes));
        {'$gen_call', From, {bytes_from, Node}} ->
            gen:reply(From, {ok, maps:get(Node, Bytes, 0)}),
            sink(Bytes);
        _ ->
            sink(Bytes)
    end.

%% @private On the victim: bytes held by each channel.
buffered() ->
    [maps:get(buffered_bytes, maps:get(rx, erldist_filter_nif:channel_inspect(C)))
     || C <- erldist_filter_nif:channel_list()].

%% @private On the flooder: flood, then wait for the victim to close.
flood_until_down(Victim, Total, Chunk) ->
    pong = net_adm:ping(Victim),
    true = erlang:monitor_node(Victim, true),
    _ = flood(Victim, Total, Chunk),
    receive {nodedown, Victim} -> down
    after 30000 -> still_up
    end.

%% @private On the flooder: send `Total' bytes to the sink as fast as possible.
flood(Victim, Total, Chunk) ->
    Bin = binary:copy(<<1>>, Chunk),
    N = Total div Chunk,
    [erlang:send({edf_flood_sink, Victim}, {chunk, node(), Bin}) || _ <- lists:seq(1, N)],
    #{sent => N * Chunk}.

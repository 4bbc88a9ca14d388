%%% The atom-table guard between real nodes: a peer sending 100,000
%%% unique atoms makes the victim's atom table grow by at most the
%%% configured budget, through the atom cache (a real OTP peer: the
%%% connection is closed, and stays so across reconnects) or inline (a
%%% raw-socket peer after a real handshake: under `drop' the messages are
%%% dropped and the connection stays up). The control case shows the same
%%% traffic without the guard creating every atom.
-module(erldist_filter_atom_guard_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0, init_per_testcase/2, end_per_testcase/2]).
-export([without_the_guard_every_atom_is_created/1]).
-export([cached_atoms_close_the_connection_at_the_budget/1]).
-export([inline_atoms_over_the_budget_are_dropped/1]).
-export([many_peers_stay_within_the_node_wide_budget/1]).
-export([large_messages_stream_with_their_atoms_counted/1]).

%% Run on the peers
-export([start_sink/0, sink_count/0, wait_sink_count/2, atom_count/0]).
-export([send_new_atoms/3, send_new_atoms_until_down/3, connect_and_send_new_atoms/3]).
-export([send_large_with_new_atoms/4, existing/2]).

-define(ATOMS, 100000).
-define(BUDGET, 1000).
-define(TOTAL, 2500).
-define(PEERS, 4).
-define(SINK, edf_atom_sink).

suite() ->
    [{timetrap, {minutes, 5}}].

all() ->
    [without_the_guard_every_atom_is_created,
     cached_atoms_close_the_connection_at_the_budget,
     inline_atoms_over_the_budget_are_dropped,
     many_peers_stay_within_the_node_wide_budget,
     large_messages_stream_with_their_atoms_counted].

init_per_testcase(Case, Config) ->
    Limits = case Case of
                 without_the_guard_every_atom_is_created -> "[]";
                 cached_atoms_close_the_connection_at_the_budget ->
                     "[{max_new_atoms, " ++ integer_to_list(?BUDGET) ++ "}]";
                 large_messages_stream_with_their_atoms_counted ->
                     "[{max_new_atoms, " ++ integer_to_list(?BUDGET) ++ "}]";
                 inline_atoms_over_the_budget_are_dropped ->
                     "[{max_new_atoms, " ++ integer_to_list(?BUDGET) ++ "}, {atom_policy, drop}]";
                 many_peers_stay_within_the_node_wide_budget ->
                     "[{max_new_atoms, " ++ integer_to_list(?BUDGET) ++ "}, {max_new_atoms_total, "
                         ++ integer_to_list(?TOTAL) ++ "}, {atom_policy, drop}]"
             end,
    {ok, V} = edf_test_peer:start(#{prefix => "victim", args => ["-erldist_filter", "limits", Limits]}),
    {ok, A} = edf_test_peer:start(#{prefix => "attacker"}),
    {ok, G} = edf_test_peer:start(#{prefix => "good"}),
    #{pid := VP, node := VNode} = V,
    _ = peer:call(VP, ?MODULE, start_sink, []),
    [pong = peer:call(P, net_adm, ping, [VNode]) || #{pid := P} <- [A, G]],
    %% Everything the victim will be asked, once before counting: a call's
    %% own atoms (its function names) are created when it first arrives.
    _ = [peer:call(VP, ?MODULE, F, []) || F <- [sink_count, atom_count]],
    _ = peer:call(VP, ?MODULE, wait_sink_count, [0, 1]),
    _ = peer:call(VP, erldist_filter_nif, world_stats_get, []),
    [{victim, V}, {attacker, A}, {good, G} | Config].

end_per_testcase(_Case, Config) ->
    edf_test_peer:stop_all([?config(K, Config) || K <- [victim, attacker, good]]).

%% The control: the measurement sees every atom when nothing guards.
without_the_guard_every_atom_is_created(Config) ->
    #{pid := VP, node := V} = ?config(victim, Config),
    #{pid := AP} = ?config(attacker, Config),
    Before = peer:call(VP, ?MODULE, atom_count, []),
    ?assertEqual(?ATOMS, peer:call(AP, ?MODULE, send_new_atoms, [V, "edf_free", ?ATOMS], 120000)),
    ok = peer:call(VP, ?MODULE, wait_sink_count, [?ATOMS, 60000]),
    Grown = peer:call(VP, ?MODULE, atom_count, []) - Before,
    ct:pal("without the guard the victim's atom table grew by ~b", [Grown]),
    ?assert(Grown >= ?ATOMS).

%% A real OTP peer's atoms travel in the atom cache: over the budget the
%% victim closes the connection before creating the atom, and a reconnect
%% starts from the same count.
cached_atoms_close_the_connection_at_the_budget(Config) ->
    #{pid := VP, node := V} = ?config(victim, Config),
    #{pid := AP} = ?config(attacker, Config),
    #{pid := GP} = ?config(good, Config),
    Before = peer:call(VP, ?MODULE, atom_count, []),
    #{down := true} = peer:call(AP, ?MODULE, send_new_atoms_until_down, [V, "edf_cached", ?ATOMS], 120000),
    Grown = peer:call(VP, ?MODULE, atom_count, []) - Before,
    ct:pal("with a budget of ~b the victim's atom table grew by ~b; the sink got ~b messages",
           [?BUDGET, Grown, peer:call(VP, ?MODULE, sink_count, [])]),
    ?assert(Grown =< ?BUDGET),
    ?assert(Grown > 0),
    %% Reconnecting does not reset the budget: the next new atom closes it.
    ?assertEqual(#{connected => true, down => true},
                 peer:call(AP, ?MODULE, connect_and_send_new_atoms, [V, "edf_again", 10], 60000)),
    ?assert(peer:call(VP, ?MODULE, atom_count, []) - Before =< ?BUDGET),
    #{channel := #{rx_stats := Rx}} = peer:call(VP, erldist_filter_nif, world_stats_get, []),
    ?assert(maps:get(limit_hits, Rx) >= 2),
    ?assert(maps:get(new_atom_count, Rx) =< ?BUDGET),
    %% Another peer's traffic carries on.
    N = peer:call(VP, ?MODULE, sink_count, []),
    ok = peer:call(GP, erlang, send, [{?SINK, V}, ok]),
    ok = peer:call(VP, ?MODULE, wait_sink_count, [N + 1, 10000]).

%% Atoms written inline (as a peer can, byte by byte) are checked too;
%% under `drop' the messages over the budget are dropped, the rest arrive.
inline_atoms_over_the_budget_are_dropped(Config) ->
    #{pid := VP, node := V} = ?config(victim, Config),
    {ok, Conn} = edf_hostile_peer:connect(V),
    Me = edf_hostile_peer:node_name(Conn),
    Before = peer:call(VP, ?MODULE, atom_count, []),
    Frames = [edf_hostile_peer:frame(edf_hostile_peer:reg_send(Me, ?SINK, inline_atom("edf_inline", I)))
              || I <- lists:seq(1, ?ATOMS)],
    ok = edf_hostile_peer:send_raw(Conn, Frames),
    %% then one message with an existing atom: once it is in, all are
    ok = edf_hostile_peer:send_frame(Conn, edf_hostile_peer:reg_send(Me, ?SINK, edf_hostile_peer:term(ok))),
    ok = peer:call(VP, ?MODULE, wait_sink_count, [?BUDGET + 1, 60000]),
    Grown = peer:call(VP, ?MODULE, atom_count, []) - Before,
    ct:pal("inline: the victim's atom table grew by ~b (budget ~b)", [Grown, ?BUDGET]),
    ?assert(Grown =< ?BUDGET),
    %% exactly the first ?BUDGET atoms' messages (and the last) arrived
    ?assertEqual(?BUDGET + 1, peer:call(VP, ?MODULE, sink_count, [])),
    ?assertNot(edf_hostile_peer:closed(Conn)),
    #{channel := #{rx_stats := Rx}} = peer:call(VP, erldist_filter_nif, world_stats_get, []),
    ?assertEqual(?ATOMS - ?BUDGET, maps:get(atom_drop_count, Rx)),
    ?assertEqual(?BUDGET, maps:get(new_atom_count, Rx)),
    edf_hostile_peer:close(Conn).

%% Several peers, each within its own budget, cannot together take the
%% victim past the node-wide one: ?PEERS raw-socket peers (distinct node
%% names) each send 2 x ?BUDGET new inline atoms; each gets at most
%% ?BUDGET, all together exactly ?TOTAL, the rest are dropped.
many_peers_stay_within_the_node_wide_budget(Config) ->
    #{pid := VP, node := V} = ?config(victim, Config),
    Conns = [begin {ok, C} = edf_hostile_peer:connect(V), C end || _ <- lists:seq(1, ?PEERS)],
    Before = peer:call(VP, ?MODULE, atom_count, []),
    lists:foreach(
      fun({K, Conn}) ->
              Me = edf_hostile_peer:node_name(Conn),
              Prefix = "edf_many" ++ integer_to_list(K),
              ok = edf_hostile_peer:send_raw(
                     Conn, [edf_hostile_peer:frame(edf_hostile_peer:reg_send(Me, ?SINK, inline_atom(Prefix, I)))
                            || I <- lists:seq(1, 2 * ?BUDGET)])
      end, lists:zip(lists:seq(1, ?PEERS), Conns)),
    %% one message with an existing atom per peer, after its flood: once
    %% all of these are in, every flood has been judged
    [ok = edf_hostile_peer:send_frame(C, edf_hostile_peer:reg_send(edf_hostile_peer:node_name(C), ?SINK,
                                                                   edf_hostile_peer:term(ok)))
     || C <- Conns],
    ok = peer:call(VP, ?MODULE, wait_sink_count, [?TOTAL + ?PEERS, 60000]),
    Grown = peer:call(VP, ?MODULE, atom_count, []) - Before,
    ct:pal("~b peers: the victim's atom table grew by ~b (per node ~b, node-wide ~b)",
           [?PEERS, Grown, ?BUDGET, ?TOTAL]),
    ?assert(Grown =< ?TOTAL),
    ?assertEqual(?TOTAL + ?PEERS, peer:call(VP, ?MODULE, sink_count, [])),
    #{channel := #{rx_stats := Rx}} = peer:call(VP, erldist_filter_nif, world_stats_get, []),
    ?assertEqual(?TOTAL, maps:get(new_atom_count, Rx)),
    ?assertEqual(2 * ?BUDGET * ?PEERS - ?TOTAL, maps:get(atom_drop_count, Rx)),
    [?assertNot(edf_hostile_peer:closed(C)) || C <- Conns],
    [edf_hostile_peer:close(C) || C <- Conns],
    ok.

%% SMALL_ATOM_UTF8_EXT of `Prefix_I', built without creating the atom here.
inline_atom(Prefix, I) ->
    Text = iolist_to_binary([Prefix, $_, integer_to_list(I)]),
    <<119, (byte_size(Text)), Text/binary>>.

%%% On the victim

%% @private A registered process counting what it receives.
start_sink() ->
    Pid = spawn(fun() -> sink(0, []) end),
    true = register(?SINK, Pid),
    ok.

sink(N, Waiting) ->
    receive
        {'$edf_count', From} ->
            From ! {'$edf_count', N},
            sink(N, Waiting);
        {'$edf_wait', From, Target} ->
            sink(N, notify(N, [{From, Target} | Waiting]));
        _ ->
            sink(N + 1, notify(N + 1, Waiting))
    end.

notify(N, Waiting) ->
    [From ! {'$edf_count', N} || {From, Target} <- Waiting, N >= Target],
    [W || W = {_, Target} <- Waiting, N < Target].

%% @private
sink_count() ->
    ?SINK ! {'$edf_count', self()},
    receive {'$edf_count', N} -> N end.

%% @private Wait until the sink has received `Target' messages.
wait_sink_count(Target, Timeout) ->
    ?SINK ! {'$edf_wait', self(), Target},
    receive {'$edf_count', _} -> ok
    after Timeout -> {timeout, sink_count()}
    end.

%% @private
atom_count() ->
    erlang:system_info(atom_count).

%%% On the attacker

%% Under `close' a fragmented message streams to the VM as its fragments
%% arrive, its atoms checked fragment by fragment: a 1 MiB message with
%% new atoms (some in the atom cache, the rest written inline further on)
%% arrives whole and counts them; the next, which would take the victim
%% past the budget, closes the connection, and of its atoms only those
%% counted exist. Atoms are counted by name on the victim: the close can
%% make it load modules, whose atoms would blur a count of the table.
large_messages_stream_with_their_atoms_counted(Config) ->
    #{pid := VP, node := V} = ?config(victim, Config),
    #{pid := GP} = ?config(good, Config),
    Half = ?BUDGET div 2,
    #{down := false} = peer:call(GP, ?MODULE, send_large_with_new_atoms, [V, "edf_large", Half, 0], 60000),
    ok = peer:call(VP, ?MODULE, wait_sink_count, [1, 30000]),
    ?assertEqual(Half, peer:call(VP, ?MODULE, existing, ["edf_large", Half])),
    #{down := true} = peer:call(GP, ?MODULE, send_large_with_new_atoms, [V, "edf_over", ?BUDGET, 30000], 60000),
    ?assertEqual(1, peer:call(VP, ?MODULE, sink_count, [])),
    Over = peer:call(VP, ?MODULE, existing, ["edf_over", ?BUDGET]),
    #{channel := #{rx_stats := Rx}} = peer:call(VP, erldist_filter_nif, world_stats_get, []),
    Counted = maps:get(new_atom_count, Rx),
    ct:pal("large: ~b + ~b of the peer's atoms exist, ~b counted (budget ~b)", [Half, Over, Counted, ?BUDGET]),
    ?assert(Half + Over =< Counted),
    ?assert(Counted =< ?BUDGET).

%% @private How many of Prefix_1..Prefix_N exist here.
existing(Prefix, N) ->
    length([I || I <- lists:seq(1, N),
                 try list_to_existing_atom(Prefix ++ "_" ++ integer_to_list(I)) of _ -> true
                 catch error:badarg -> false end]).

%% @private Send one message of a 1 MiB binary and `N' new atoms (created
%% here) to the victim's sink; whether the connection went down within
%% `Wait' ms.
send_large_with_new_atoms(Victim, Prefix, N, Wait) ->
    true = erlang:monitor_node(Victim, true),
    Atoms = [list_to_atom(Prefix ++ "_" ++ integer_to_list(I)) || I <- lists:seq(1, N)],
    erlang:send({?SINK, Victim}, {binary:copy(<<7>>, 1 bsl 20), Atoms}, [noconnect]),
    Down = receive {nodedown, Victim} -> true after Wait -> false end,
    #{down => Down}.

%% @private Send `N' new atoms (created here) to the victim's sink, one per
%% message, without reconnecting; returns how many were sent before the
%% connection was gone.
send_new_atoms(Victim, Prefix, N) ->
    send_loop(Victim, Prefix, 1, N).

%% @private The same, then wait for the victim to close the connection.
send_new_atoms_until_down(Victim, Prefix, N) ->
    true = erlang:monitor_node(Victim, true),
    Sent = send_loop(Victim, Prefix, 1, N),
    #{sent => Sent, down => wait_down(Victim)}.

send_loop(_Victim, _Prefix, I, N) when I > N ->
    N;
send_loop(Victim, Prefix, I, N) ->
    Atom = list_to_atom(Prefix ++ "_" ++ integer_to_list(I)),
    case erlang:send({?SINK, Victim}, Atom, [noconnect]) of
        noconnect -> I - 1;
        _ -> send_loop(Victim, Prefix, I + 1, N)
    end.

wait_down(Victim) ->
    receive {nodedown, Victim} -> true
    after 30000 -> false
    end.

%% @private Connect again, then send `N' more new atoms.
connect_and_send_new_atoms(Victim, Prefix, N) ->
    Connected = net_kernel:connect_node(Victim),
    #{down := Down} = send_new_atoms_until_down(Victim, Prefix, N),
    #{connected => Connected, down => Down}.

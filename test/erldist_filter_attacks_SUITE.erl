%%% The talk's seven "Do NOT run" attacks, bounded, from an attacker peer
%%% that does not run the filter (`-proto_dist inet_tcp') against victim
%%% peers that run it with the one-line safe policy
%%% (`-erldist_filter safe_policy true').
%%%
%%% Group `safe_policy': every attack is stopped; the victim stays up,
%%% the payload never ran (no marker file from a victim) and the decision
%%% was logged (domain `[erldist_filter]').
%%%
%%% Group `break_glass': the same attacks with deep packet inspection
%%% switched off on the victims (the talk's break glass; for the flood the
%%% message-size limits are raised too, since they hold with inspection
%%% off) succeed: proof that the first group can fail. Still bounded: the
%%% recursion has a depth counter and never targets the attacker, the
%%% halt halts only victim peers, the flood is two 64 MiB messages.
%%%
%%% Two victims, connected to each other, so that the recursive attacks
%%% have somewhere to recurse; the attacker only attacks the first.
%%%
%%% The peers' carriers come from the config (`victim_peer',
%%% `attacker_peer': `edf_test_peer' options), TCP by default:
%%% `erldist_filter_tls_SUITE' reruns these cases over TLS.
-module(erldist_filter_attacks_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, groups/0, suite/0]).
-export([init_per_group/2, end_per_group/2]).
-export([init_per_testcase/2, end_per_testcase/2]).

-export([recursive_halt/1]).
-export([recursive_net_sup_shutdown/1]).
-export([flood/1]).
-export([forced_code_swap/1]).
-export([rex_cast_rce/1]).
-export([kernel_sup_rce/1]).
-export([standard_error_rce/1]).

%% Run on the victims
-export([setup_victim/2]).

-define(TIMEOUT, 30000).
-define(MIB, (1024 * 1024)).
-define(FLOOD_BYTES, (64 * ?MIB)).

suite() ->
    [{timetrap, {minutes, 2}}].

all() ->
    [{group, safe_policy}, {group, break_glass}].

groups() ->
    Cases = [recursive_halt, recursive_net_sup_shutdown, flood, forced_code_swap,
             rex_cast_rce, kernel_sup_rce, standard_error_rce],
    [{safe_policy, [], Cases}, {break_glass, [], Cases}].

init_per_group(Group, Config) ->
    [{mode, Group} | Config].

end_per_group(_Group, _Config) ->
    ok.

init_per_testcase(_Case, Config) ->
    Dir = filename:join(?config(priv_dir, Config), "markers"),
    ok = filelib:ensure_path(Dir),
    [ok = file:delete(filename:join(Dir, F)) || F <- filelib:wildcard("*", Dir)],
    VictimArgs = ["-erldist_filter", "safe_policy", "true", "-connect_all", "false"],
    VictimPeer = proplists:get_value(victim_peer, Config, #{carrier => filter_inet}),
    AttackerPeer = proplists:get_value(attacker_peer, Config, #{carrier => stock_inet}),
    {ok, [V1, V2] = Victims} = edf_test_peer:start_many(2, VictimPeer#{prefix => "victim",
                                                                        args => VictimArgs}),
    {ok, Attacker} = edf_test_peer:start(AttackerPeer#{prefix => "attacker",
                                                       args => ["-connect_all", "false"]}),
    Mode = ?config(mode, Config),
    [ok = call(V, ?MODULE, setup_victim, [app_dir(), Mode]) || V <- Victims],
    ?assertEqual(pong, call(V1, net_adm, ping, [node_of(V2)])),
    %% A stock node talks to the filter carrier.
    [?assertEqual(pong, call(Attacker, net_adm, ping, [node_of(V)])) || V <- Victims],
    [{victims, Victims}, {attacker, Attacker}, {markers, Dir} | Config].

end_per_testcase(_Case, Config) ->
    case ?config(tc_status, Config) of
        ok -> ok;
        _ -> [ct:pal("~p:~n~p", [node_of(V), captured_events(V)])
              || V <- ?config(victims, Config)]
    end,
    edf_test_peer:stop_all([?config(attacker, Config) | ?config(victims, Config)]),
    ok.

%%% Test cases

%% Talk 1: `erpc:multicast' of a fun that multicasts itself and halts.
recursive_halt(Config) ->
    {A, [V1, V2]} = roles(Config),
    ok = call(A, edf_test_attacker, recursive_halt, [[node_of(V1)], 2, dir(Config)]),
    case mode(Config) of
        safe_policy ->
            refused_spawn(V1, A, {erlang, apply, 2}),
            [victim_up(A, V) || V <- [V1, V2]],
            ?assertEqual([], markers(Config, recursive_halt));
        break_glass ->
            %% Both victims halt (V2 through V1): the recursion ran.
            [wait_down(V) || V <- [V1, V2]],
            ?assertEqual(lists:sort([node_of(V1), node_of(V2)]), markers(Config, recursive_halt)),
            ?assertEqual(pong, call(A, net_adm, ping, [node_of(A)]))
    end.

%% Talk 2: the same recursion shutting down `net_sup'.
recursive_net_sup_shutdown(Config) ->
    {A, [V1, V2]} = roles(Config),
    ok = call(A, edf_test_attacker, recursive_net_sup_shutdown, [[node_of(V1)], 2, dir(Config)]),
    case mode(Config) of
        safe_policy ->
            refused_spawn(V1, A, {erlang, apply, 2}),
            [victim_up(A, V) || V <- [V1, V2]],
            [?assert(is_pid(call(V, erlang, whereis, [net_sup]))) || V <- [V1, V2]],
            ?assertEqual([], markers(Config, recursive_net_sup_shutdown));
        break_glass ->
            [wait_until(fun() -> call(V, erlang, whereis, [net_sup]) =:= undefined end) || V <- [V1, V2]],
            [?assertEqual(nonode@nohost, call(V, erlang, node, [])) || V <- [V1, V2]],
            ?assertEqual(lists:sort([node_of(V1), node_of(V2)]),
                         markers(Config, recursive_net_sup_shutdown))
    end.

%% Talk 3: the flood, as direct sends of 64 MiB binaries to a registered
%% process (the talk's recursive version is stopped at its spawn request,
%% as above). Safe policy: `max_message_bytes' (16 MiB) closes the
%% attacker's connection while the fragments arrive; nothing is delivered
%% and the victim's memory stays far below one message.
flood(Config) ->
    {A, [V1, _V2]} = roles(Config),
    _ = call(V1, edf_test_attacker, start_sink, [edf_flood_sink]),
    Before = memory(V1),
    PeakBefore = peak_rss(V1),
    Count = case mode(Config) of safe_policy -> 3; break_glass -> 2 end,
    Result = call(A, edf_test_attacker, flood, [node_of(V1), edf_flood_sink, Count, ?FLOOD_BYTES]),
    ct:pal("flood: ~p", [Result]),
    case mode(Config) of
        safe_policy ->
            ?assertEqual(0, call(V1, edf_test_attacker, sink_count, [edf_flood_sink])),
            Growth = memory(V1) - Before,
            ct:pal("victim memory growth: ~b bytes", [Growth]),
            ?assert(Growth < 48 * ?MIB),
            %% What the NIF held is outside erlang:memory/1: the OS peak.
            PeakGrowth = peak_rss(V1) - PeakBefore,
            ct:pal("victim peak RSS growth: ~b bytes", [PeakGrowth]),
            ?assert(PeakGrowth < 48 * ?MIB),
            Closed = await_report(V1, fun(#{what := erldist_filter_closed_connection, node := N,
                                            reason := Reason}) ->
                                              N =:= node_of(A)
                                                  andalso has_limit(Reason, max_message_bytes);
                                         (_) -> false
                                      end),
            ct:pal("logged: ~p", [Closed]),
            victim_up(A, V1);
        break_glass ->
            ?assertEqual(Count, call(V1, edf_test_attacker, sink_count, [edf_flood_sink])),
            PeakGrowth = peak_rss(V1) - PeakBefore,
            ct:pal("victim peak RSS growth: ~b bytes", [PeakGrowth]),
            ?assert(PeakGrowth >= 64 * ?MIB),
            victim_up(A, V1)
    end.

%% Talk 4: forced code load through `erpc:call(V, code, load_binary, ...)'.
forced_code_swap(Config) ->
    {A, [V1, _V2]} = roles(Config),
    Result = call(A, edf_test_attacker, forced_code_swap, [node_of(V1), edf_attack_swapped, dir(Config)]),
    case mode(Config) of
        safe_policy ->
            ?assertEqual({exit, {exception, unauthorized}}, Result),
            refused_spawn(V1, A, {code, load_binary, 3}),
            ?assertEqual(false, call(V1, code, is_loaded, [edf_attack_swapped])),
            ?assertEqual([], markers(Config, forced_code_swap)),
            victim_up(A, V1);
        break_glass ->
            ?assertMatch({ok, {module, edf_attack_swapped}}, Result),
            ?assertEqual(swapped, call(V1, edf_attack_swapped, version, [])),
            ?assertEqual([node_of(V1)], markers(Config, forced_code_swap))
    end.

%% Talk 5: `rex' `$gen_cast' of `{cast, erlang, apply, [Fun, []], Gl}'.
rex_cast_rce(Config) ->
    {A, [V1, _V2]} = roles(Config),
    ok = call(A, edf_test_attacker, rex_cast_rce, [node_of(V1), dir(Config)]),
    case mode(Config) of
        safe_policy ->
            refused_send(V1, A, rex, rex_cast_not_allowed),
            victim_up(A, V1),
            ?assertEqual([], markers(Config, rex_cast_rce));
        break_glass ->
            wait_until(fun() -> markers(Config, rex_cast_rce) =:= [node_of(V1)] end)
    end.

%% Talk 6: `supervisor:start_child({kernel_sup, V}, Spec)' whose start
%% function is the payload.
kernel_sup_rce(Config) ->
    {A, [V1, _V2]} = roles(Config),
    Result = call(A, edf_test_attacker, kernel_sup_rce, [node_of(V1), dir(Config)]),
    case mode(Config) of
        safe_policy ->
            %% The policy answers the refused call.
            ?assertEqual({error, unauthorized}, Result),
            refused_send(V1, A, kernel_sup, supervisor_request),
            victim_up(A, V1),
            ?assertEqual([], markers(Config, kernel_sup_rce));
        break_glass ->
            ?assertEqual({ok, undefined}, Result),
            ?assertEqual([node_of(V1)], markers(Config, kernel_sup_rce))
    end.

%% Talk 7: an `io_request' to `standard_error' whose `put_chars' applies
%% the payload.
standard_error_rce(Config) ->
    {A, [V1, _V2]} = roles(Config),
    Result = call(A, edf_test_attacker, standard_error_rce, [node_of(V1), dir(Config)]),
    case mode(Config) of
        safe_policy ->
            ?assertEqual({io_reply, {error, enotsup}}, Result),
            refused_send(V1, A, standard_error, io_request),
            victim_up(A, V1),
            ?assertEqual([], markers(Config, standard_error_rce));
        break_glass ->
            ?assertEqual({io_reply, ok}, Result),
            ?assertEqual([node_of(V1)], markers(Config, standard_error_rce))
    end.

%%% Helpers (test node)

app_dir() ->
    filename:dirname(code:where_is_file("erldist_filter.app")).

roles(Config) -> {?config(attacker, Config), ?config(victims, Config)}.
mode(Config) -> ?config(mode, Config).
dir(Config) -> ?config(markers, Config).
node_of(#{node := Node}) -> Node.
call(#{pid := Pid}, M, F, A) -> peer:call(Pid, M, F, A, ?TIMEOUT).

markers(Config, Attack) ->
    edf_test_attacker:markers(dir(Config), Attack).

memory(Peer) ->
    call(Peer, erlang, garbage_collect, []),
    call(Peer, erlang, memory, [total]).

%% The victim's peak resident set (VmHWM), in bytes.
peak_rss(Peer) ->
    {ok, Status} = call(Peer, file, read_file, ["/proc/self/status"]),
    [Kb] = [binary_to_integer(string:trim(string:trim(V, both), trailing, " kB"))
            || <<"VmHWM:", V/binary>> <- binary:split(Status, <<"\n">>, [global])],
    Kb * 1024.

has_limit({_, {erldist_filter, Limit, _}}, Limit) -> true;
has_limit({erldist_filter, Limit, _}, Limit) -> true;
has_limit(Tuple, Limit) when is_tuple(Tuple) -> lists:any(fun(E) -> has_limit(E, Limit) end, tuple_to_list(Tuple));
has_limit(_, _) -> false.

%% The victim is up: it answers its controller, is still distributed, and
%% the attacker still reaches it.
victim_up(Attacker, Victim) ->
    ?assertEqual(node_of(Victim), call(Victim, erlang, node, [])),
    ?assertEqual(pong, call(Attacker, net_adm, ping, [node_of(Victim)])).

wait_down(#{pid := Pid}) ->
    wait_until(fun() -> not is_process_alive(Pid) orelse
                            peer_state(Pid) =/= running end).

peer_state(Pid) ->
    try peer:get_state(Pid)
    catch exit:Reason -> {exit, Reason}
    end.

captured_events(Victim) ->
    try call(Victim, edf_test_attacker, capture_events, [])
    catch Class:Reason -> {Class, Reason}
    end.

wait_until(Fun) ->
    wait_until(Fun, 100).

wait_until(Fun, 0) ->
    ?assert(Fun());
wait_until(Fun, N) ->
    case try Fun() catch _:_ -> false end of
        true -> ok;
        _ -> timer:sleep(100), wait_until(Fun, N - 1)
    end.

%% A report matching `Pred' is logged on `Victim' (within the timeout).
await_report(Victim, Pred) ->
    await_report(Victim, Pred, 100).

await_report(Victim, _Pred, 0) ->
    ct:fail({no_matching_report, call(Victim, edf_test_attacker, capture_events, [])});
await_report(Victim, Pred, N) ->
    Events = call(Victim, edf_test_attacker, capture_events, []),
    case [E || E <- Events, matches(Pred, E)] of
        [E | _] -> E;
        [] -> timer:sleep(100), await_report(Victim, Pred, N - 1)
    end.

%% A predicate that crashes on an event's shape does not match it.
matches(Pred, Event) ->
    try Pred(Event) =:= true
    catch _:_ -> false
    end.

refused_spawn(Victim, Attacker, Mfa) ->
    NodeA = node_of(Attacker),
    await_report(Victim, fun(#{what := erldist_filter_policy, node := N, dop := 'DOP_SPAWN_REQUEST',
                               decision := drop, reason := spawn_not_allowed, mfa := M}) ->
                                 N =:= NodeA andalso M =:= Mfa
                         end).

refused_send(Victim, Attacker, To, Reason) ->
    NodeA = node_of(Attacker),
    await_report(Victim, fun(#{what := erldist_filter_policy, node := N, dop := 'DOP_REG_SEND',
                               decision := drop, reason := R, to := T}) ->
                                 N =:= NodeA andalso R =:= Reason andalso T =:= To
                         end).

%%% Helpers (victims)

%% @private The safe policy came from the command line at boot; start the
%% application (routers for redirected operations) and capture the
%% decisions. Break glass: inspection off, message-size limits raised.
setup_victim(AppDir, Mode) ->
    true = code:add_pathz(AppDir),
    {ok, _} = application:ensure_all_started(erldist_filter),
    erldist_filter_policy = erldist_filter:handler_get(),
    ok = edf_test_attacker:capture_start(),
    case Mode of
        safe_policy ->
            ok;
        break_glass ->
            ok = erldist_filter_nif:config_set(deep_packet_inspection, false),
            ok = erldist_filter_nif:limits_set(#{max_message_bytes => 1024 * ?MIB,
                                                 max_packet_len => 1024 * ?MIB,
                                                 max_buffered_bytes => 1024 * ?MIB})
    end.

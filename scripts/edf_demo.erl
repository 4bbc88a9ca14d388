%%% The demo (`scripts/demo'): the talk, live. Three local nodes on
%%% loopback: an attacker without the filter (stock `-proto_dist inet_tcp')
%%% and two victims with the filter carrier and the one-line safe policy
%%% (`-erldist_filter safe_policy true'). It shows ping/pong logging, then
%%% runs the talk's seven "Do NOT run" attacks from the attacker against
%%% the victims only, each bounded (recursion depth counter, the payload
%%% never runs on the attacker, timeouts; this node is not distributed, so
%%% nothing can reach it), and prints what each victim's filter saw, then
%%% `world_stats_get()' and `channel_inspect/1' per peer.
%%%
%%% Every wait is bounded, a watchdog ends the demo after 4 minutes, and
%%% the peers are stopped whatever happens.
%%%
%%% `main(#{top => true})' (`EDF_TOP=1 bash scripts/demo') then opens the
%%% live view (`erldist_filter_top') on victim 1 while the attacker keeps
%%% trying, until `q'; the watchdog is off from then on.
-module(edf_demo).

-export([main/0]).
-export([main/1]).
%% Run on the attacker
-export([keep_attacking/1]).
%% Run on the victims
-export([setup_victim/1]).
-export([start_logger/0]).

-define(TIMEOUT, 30000).
-define(WATCHDOG, 240000).
-define(MIB, (1024 * 1024)).

%% @doc Run the demo and print what happened.
-spec main() -> ok.
main() ->
    main(#{}).

%% @doc The demo; with `top => true' it ends in the live view.
-spec main(#{top => boolean()}) -> ok.
main(Options) ->
    Watchdog = spawn(fun() ->
                           timer:sleep(?WATCHDOG),
                           io:format("~nDemo watchdog: still running after ~b s, stopping.~n", [?WATCHDOG div 1000]),
                           erlang:halt(2)
                   end),
    Dir = filename:absname("_build/demo/markers"),
    ok = filelib:ensure_path(Dir),
    [file:delete(filename:join(Dir, F)) || F <- filelib:wildcard("*", Dir)],
    io:format("Starting 2 victims (-proto_dist erldist_filter_inet_tcp -erldist_filter safe_policy true)~n"
              "and 1 attacker (-proto_dist inet_tcp, no filter)...~n"),
    VictimArgs = ["-erldist_filter", "safe_policy", "true"],
    {ok, Victims} = edf_test_peer:start_many(2, #{carrier => filter_inet, prefix => "victim",
                                                  args => VictimArgs}),
    Peers = case edf_test_peer:start(#{carrier => stock_inet, prefix => "attacker",
                                       args => ["-connect_all", "false"]}) of
                {ok, Attacker} -> [Attacker | Victims];
                Error -> edf_test_peer:stop_all(Victims), error(Error)
            end,
    try
        run(hd(Peers), Victims, Dir),
        maps:get(top, Options, false) andalso top(hd(Peers), Victims, Watchdog)
    after
        edf_test_peer:stop_all(Peers),
        io:format("~nPeers stopped.~n")
    end.

run(Attacker, [V1, V2] = Victims, Dir) ->
    AppDir = filename:dirname(code:where_is_file("erldist_filter.app")),
    [ok = call(V, ?MODULE, setup_victim, [AppDir]) || V <- Victims],
    [io:format("  ~-10s ~s~n", [Role, node_of(P)])
     || {Role, P} <- [{"attacker", Attacker}, {"victim 1", V1}, {"victim 2", V2}]],
    io:format("~nVictim 1's filter: config ~p~n  limits ~p~n  handler ~p~n",
              [call(V1, erldist_filter_nif, config_get, []), call(V1, erldist_filter_nif, limits_get, []),
               call(V1, erldist_filter, handler_get, [])]),
    ping_pong(V1, V2),
    io:format("~nThe attacker connects (stock inet_tcp to the filter carrier):~n"),
    [io:format("  ~s -> ~s: ~p~n", [node_of(Attacker), node_of(V), call(Attacker, net_adm, ping, [node_of(V)])])
     || V <- Victims],
    io:format("~nThe talk's handler demo: an allowed and a refused erpc call~n"),
    io:format("  erpc:call(V1, erlang, node, [])  -> ~p~n",
              [catch_call(Attacker, erpc, call, [node_of(V1), erlang, node, [], 5000])]),
    io:format("  erpc:call(V1, erlang, halt, [1]) -> ~p~n",
              [catch_call(Attacker, erpc, call, [node_of(V1), erlang, halt, [1], 5000])]),
    io:format("~nThe seven \"Do NOT run\" attacks, from the attacker, against the victims only:~n"),
    Results = [attack(N, Attack, Attacker, Victims, Dir)
               || {N, Attack} <- lists:zip(lists:seq(1, 7), edf_test_attacker:attacks())],
    io:format("~nSummary:~n"),
    [io:format("  ~-28s ~s~n", [Attack, Verdict]) || {Attack, Verdict} <- Results],
    io:format("~nWhat each victim's filter saw (erldist_filter:world_stats_print() there):~n"),
    [print_stats(P) || P <- Victims],
    ok.

%%% The live view

top(Attacker, [V1 | _] = Victims, Watchdog) ->
    exit(Watchdog, kill),
    ok = call(Attacker, ?MODULE, keep_attacking, [[node_of(V) || V <- Victims]]),
    io:format("~nOpening the live view of victim 1 (the attacker keeps trying); type q and Enter to quit.~n"),
    erldist_filter_top:start(#{sample => fun(N) -> call(V1, erldist_filter_top, sample, [N]) end}).

%% @doc On the attacker: every 200 ms, per victim, a refused send to
%% `init', a refused `erpc:call(V, os, getpid, [])' and an allowed
%% `erpc:call(V, erlang, node, [])', until the peer stops.
-spec keep_attacking([node()]) -> ok.
keep_attacking(Victims) ->
    _ = spawn(fun() -> attack_loop(Victims) end),
    ok.

attack_loop(Victims) ->
    [begin
         {init, V} ! {edf_demo, stop},
         _ = try_erpc(V, os, getpid, []),
         _ = try_erpc(V, erlang, node, [])
     end || V <- Victims],
    timer:sleep(200),
    attack_loop(Victims).

%% The attack's outcome does not matter, only that it keeps coming.
try_erpc(Node, M, F, A) ->
    try erpc:call(Node, M, F, A, 1000)
    catch Class:Reason -> {Class, Reason}
    end.

%%% Ping/pong logging (the talk's logger demo)

ping_pong(V1, V2) ->
    io:format("~nPing/pong logging: victim 1 runs a logger (edf_test_logger) and, for this ping~n"
              "only, the `untrusted' switch, so every message is logged and passes the policy.~n"),
    ok = call(V1, ?MODULE, start_logger, []),
    ok = call(V1, erldist_filter_nif, config_set, [untrusted, true]),
    Pong = call(V2, net_adm, ping, [node_of(V1)]),
    io:format("  ~s -> ~s: ~p~n", [node_of(V2), node_of(V1), Pong]),
    Demonitored = fun(Es) -> lists:any(fun(E) -> element(1, element(3, E)) =:= udist_dop_demonitor_p end, Es) end,
    Events = case catch_call(V1, edf_test_logger, await, [1, Demonitored, 5000]) of
                 L when is_list(L) -> L;
                 _ -> call(V1, edf_test_logger, export, [1])
             end,
    ok = call(V1, erldist_filter_nif, config_set, [untrusted, false]),
    Counts = [call(V1, erldist_filter_nif, logger_inspect, [L]) || L <- call(V1, erldist_filter_nif, logger_list, [])],
    io:format("  victim 1's logger saw (logger_inspect: ~0p):~n", [Counts]),
    case Events of
        [] -> io:format("    (no decoded events: see the [erldist_filter] warnings of the logger worker)~n");
        _ -> [io:format("    ~s~n", [describe_event(E)]) || E <- lists:sublist(Events, 12)]
    end,
    io:format("  victim 1's policy decided:~n"),
    [io:format("    ~s~n", [describe_decision(D)]) || D <- decisions(V1, node_of(V2))].

describe_event({_Time, Node, Control}) ->
    io_lib:format("from ~s: ~s ~s", [Node, udist:get_dop_name(Control), short(Control)]);
describe_event({_Time, Node, Control, Payload}) ->
    io_lib:format("from ~s: ~s ~s~n      payload ~s", [Node, udist:get_dop_name(Control), short(Control),
                                                     short(Payload)]).

short(Term) ->
    lists:flatten(io_lib:format("~0P", [Term, 12])).

%%% Attacks

attack(N, Attack, Attacker, [V1, V2] = Victims, Dir) ->
    io:format("~n~b. ~s~n", [N, title(Attack)]),
    NodeA = node_of(Attacker),
    Before = [{V, length(events(V))} || V <- Victims],
    Result = run_attack(Attack, Attacker, V1, Dir),
    io:format("   attacker got: ~s~n", [short(Result)]),
    timer:sleep(300),
    Seen = lists:append([[{node_of(V), E} || E <- lists:nthtail(Count, events(V)), from(E) =:= NodeA]
                         || {V, Count} <- Before]),
    %% What stopped the attack; the attacker's ordinary traffic (global's
    %% sync after a reconnect, pings) was kept and is only counted.
    {Kept, Refused} = lists:partition(fun({_, E}) -> maps:get(decision, E, none) =:= keep end, Seen),
    case Refused of
        [] -> io:format("   the filter refused: nothing~n");
        _ -> [io:format("   ~s saw: ~s~n", [short_node(Node), describe_decision(E)])
              || {Node, E} <- lists:sublist(Refused, 4)]
    end,
    Kept =/= [] andalso io:format("   (and kept ~b ordinary messages from the attacker)~n", [length(Kept)]),
    Ran = edf_test_attacker:markers(Dir, Attack),
    Up = [{V, still_up(Attacker, V)} || V <- [V1, V2]],
    [io:format("   ~s: ~s~n", [short_node(node_of(V)), S]) || {V, S} <- Up],
    io:format("   payload ran on: ~s~n", [case Ran of [] -> "nowhere"; _ -> short(Ran) end]),
    Blocked = Ran =:= [] andalso lists:all(fun({_, S}) -> S =:= "still up" end, Up),
    {Attack, case Blocked of true -> "BLOCKED (victims up, payload never ran)"; false -> "NOT BLOCKED" end}.

title(recursive_halt) -> "Recursively halt all nodes (erpc:multicast of a self-multicasting fun, depth 2)";
title(recursive_net_sup_shutdown) -> "Recursively shut down Erlang distribution (net_sup), depth 2";
title(flood) -> "Flood: three 64 MiB messages to a registered process";
title(forced_code_swap) -> "Forced code load (erpc:call(V, code, load_binary, ...))";
title(rex_cast_rce) -> "RCE without spawn request: rex $gen_cast {cast, erlang, apply, [Fun, []], Gl}";
title(kernel_sup_rce) -> "RCE without spawn request or rex: supervisor:start_child({kernel_sup, V}, ...)";
title(standard_error_rce) -> "RCE without spawn request, rex or supervisor: io_request to standard_error".

run_attack(recursive_halt, A, V1, Dir) ->
    catch_call(A, edf_test_attacker, recursive_halt, [[node_of(V1)], 2, Dir]);
run_attack(recursive_net_sup_shutdown, A, V1, Dir) ->
    catch_call(A, edf_test_attacker, recursive_net_sup_shutdown, [[node_of(V1)], 2, Dir]);
run_attack(flood, A, V1, _Dir) ->
    _ = call(V1, edf_test_attacker, start_sink, [edf_demo_sink]),
    R = catch_call(A, edf_test_attacker, flood, [node_of(V1), edf_demo_sink, 3, 64 * ?MIB]),
    {R, {delivered_to_sink, call(V1, edf_test_attacker, sink_count, [edf_demo_sink])}};
run_attack(forced_code_swap, A, V1, Dir) ->
    catch_call(A, edf_test_attacker, forced_code_swap, [node_of(V1), edf_demo_swapped, Dir]);
run_attack(rex_cast_rce, A, V1, Dir) ->
    catch_call(A, edf_test_attacker, rex_cast_rce, [node_of(V1), Dir]);
run_attack(kernel_sup_rce, A, V1, Dir) ->
    catch_call(A, edf_test_attacker, kernel_sup_rce, [node_of(V1), Dir]);
run_attack(standard_error_rce, A, V1, Dir) ->
    catch_call(A, edf_test_attacker, standard_error_rce, [node_of(V1), Dir]).

still_up(Attacker, Victim) ->
    Node = node_of(Victim),
    case {catch_call(Victim, erlang, node, []), catch_call(Attacker, net_adm, ping, [Node])} of
        {Node, pong} -> "still up";
        {Node, pang} -> "up, but unreachable";
        {nonode@nohost, _} -> "up, distribution DOWN";
        _ -> "DOWN"
    end.

%%% Decisions logged on the victims (edf_test_attacker's capture)

events(Victim) ->
    case catch_call(Victim, edf_test_attacker, capture_events, []) of
        L when is_list(L) -> L;
        _ -> []
    end.

decisions(Victim, From) ->
    [E || E <- events(Victim), from(E) =:= From].

from(#{node := Node}) -> Node;
from(_) -> undefined.

describe_decision(#{what := erldist_filter_policy, dop := Dop, decision := Decision, reason := Reason} = E) ->
    Extra = [io_lib:format(" ~s=~s", [K, short(V)]) || K <- [to, mfa, request, hint], V <- [maps:get(K, E, '$none')],
                                                     V =/= '$none'],
    io_lib:format("~s, decision ~s (~s)~s", [Dop, Decision, Reason, Extra]);
describe_decision(#{what := erldist_filter_closed_connection, reason := Reason}) ->
    io_lib:format("connection closed by the filter: ~s", [short(limit_of(Reason))]);
describe_decision(E) ->
    short(E).

limit_of({error, {erldist_filter, Kind, _}}) -> Kind;
limit_of(Other) -> Other.

short_node(Node) ->
    hd(string:split(atom_to_list(Node), "@")).

%%% Statistics

%% The library's text (erldist_filter_stats), made on the peer, printed here.
print_stats(Peer) ->
    case catch_call(Peer, erldist_filter_stats, format, []) of
        {Class, Reason} when Class =:= error; Class =:= exit; Class =:= throw ->
            io:format("  ~s: ~p~n", [node_of(Peer), {Class, Reason}]);
        Text ->
            io:put_chars(Text)
    end.

%%% Helpers

node_of(#{node := Node}) -> Node.

call(#{pid := Pid}, M, F, A) ->
    peer:call(Pid, M, F, A, ?TIMEOUT).

catch_call(Peer, M, F, A) ->
    try call(Peer, M, F, A) of
        R -> R
    catch
        Class:Reason -> {Class, Reason}
    end.

%%% On the victims

%% @doc Start the application (routers for redirected operations) and
%% capture the `[erldist_filter]' log events.
-spec setup_victim(file:filename()) -> ok.
setup_victim(AppDir) ->
    true = code:add_pathz(AppDir),
    {ok, _} = application:ensure_all_started(erldist_filter),
    %% The policy's notices stay in the capture, off the console.
    ok = logger:set_handler_config(default, level, error),
    edf_test_attacker:capture_start().

%% @doc A logger pool of one `edf_test_logger' worker.
-spec start_logger() -> ok.
start_logger() ->
    {ok, _} = supervisor:start_child(erldist_filter_sup,
                                     erldist_filter_logger_sup:child_spec(edf_test_logger, [], 1)),
    ok.


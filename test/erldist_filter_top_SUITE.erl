%%% The live view in a real terminal: a filtered node (safe policy) runs
%%% an interactive `erl' shell inside tmux; two filtered peers connect to
%%% it and keep sending (ordinary sends, and sends to `init', which the
%%% policy refuses through the handler: redirects and logged decisions).
%%% The test types `erldist_filter_top:start().' into that shell and reads
%%% the screen with `tmux capture-pane': both peers are listed, their
%%% counters grow, a remote spawn over its budget shows as a kill, the
%%% sort keys reorder the rows, and `q' returns to the shell with nothing
%%% left behind.
%%%
%%% The terminal is `edf_test_tmux' (the screen is polled, bounded).
-module(erldist_filter_top_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0]).
-export([init_per_suite/1, end_per_suite/1]).
-export([init_per_testcase/2, end_per_testcase/2]).

-export([live_view_in_tmux/1]).
-export([demo_opens_live_view/1]).

%% Run on the peers
-export([traffic/2]).
-export([remote_node/1]).

-define(TIMEOUT, 30000).

suite() ->
    [{timetrap, {minutes, 6}}].

all() ->
    [live_view_in_tmux, demo_opens_live_view].

init_per_suite(Config) ->
    edf_test_tmux:require(Config).

end_per_suite(_Config) ->
    ok.

init_per_testcase(demo_opens_live_view, Config) ->
    [{socket, undefined}, {peers, []} | Config];
init_per_testcase(_TestCase, Config) ->
    Name = edf_test_epmd:node_name("top", {127, 0, 0, 1}),
    Node = list_to_atom(Name ++ "@127.0.0.1"),
    Dirs = lists:usort([filename:dirname(code:which(M)) || M <- [erldist_filter_nif, edf_test_epmd]]
                       ++ [filename:dirname(code:where_is_file("erldist_filter.app"))]),
    Erl = lists:join(" ", ["erl -name", Name ++ "@127.0.0.1",
                           "-proto_dist erldist_filter_inet_tcp -start_epmd false",
                           "-epmd_module edf_test_epmd -setcookie edf_test",
                           "-erldist_filter safe_policy true",
                           %% The peers' refusals go on all the time: on the
                           %% console they would push the prompts off screen.
                           "-erldist_filter log_to_default_handler false"]
                     ++ ["-pa " ++ D || D <- Dirs]),
    Socket = edf_test_tmux:start(lists:flatten(Erl)),
    try
        edf_test_tmux:await(Socket, fun(S) -> string:find(S, ")1>") =/= nomatch end),
        edf_test_tmux:keys(Socket, "application:ensure_all_started(erldist_filter)."),
        edf_test_tmux:await(Socket, fun(S) -> string:find(S, ")2>") =/= nomatch end),
        {ok, Peers} = edf_test_peer:start_many(2, #{prefix => "toppeer", args => ["-connect_all", "false"]}),
        [{socket, Socket}, {node, Node}, {peers, Peers} | Config]
    catch
        Class:Reason:Stack ->
            edf_test_tmux:stop(Socket),
            erlang:raise(Class, Reason, Stack)
    end.

%% The tmux server (on its own socket) takes the node in it down.
end_per_testcase(_TestCase, Config) ->
    edf_test_peer:stop_all(?config(peers, Config)),
    edf_test_tmux:stop(?config(socket, Config)).

%%% Test cases

live_view_in_tmux(Config) ->
    Socket = ?config(socket, Config),
    Node = ?config(node, Config),
    [P1, P2] = ?config(peers, Config),
    %% P1 sends one refused message per round, P2 five: P2 has more
    %% redirects, P1 sorts first by name.
    [ok = peer:call(Pid, ?MODULE, traffic, [Node, Refused], ?TIMEOUT)
     || {#{pid := Pid}, Refused} <- [{P1, 1}, {P2, 5}]],
    %% Remote erlang:node/0 is allowed, but with a concurrency budget of 0
    %% every such spawn is refused: a budget hit the view counts as a kill.
    edf_test_tmux:keys(Socket, "application:set_env(erldist_filter, spawn_budget, "
                 "#{mfas => [{{erlang, node, 0}, #{concurrency => 0}}]})."),
    edf_test_tmux:await(Socket, fun(S) -> string:find(S, ")3>") =/= nomatch end),
    edf_test_tmux:keys(Socket, "erldist_filter_top:start()."),
    [N1, N2] = [atom_to_list(N) || #{node := N} <- [P1, P2]],
    Screen1 = edf_test_tmux:await(Socket, fun(S) -> has_rows(S, [N1, N2]) end),
    ?assertNotEqual(nomatch, string:find(Screen1, "sort: packets")),
    %% Counters change from one refresh to the next.
    Redirects1 = column(Screen1, N2, redirects),
    Screen2 = edf_test_tmux:await(Socket, fun(S) -> has_rows(S, [N2]) andalso column(S, N2, redirects) > Redirects1 end),
    ?assert(column(Screen2, N2, packets_per_sec) > 0),
    ?assert(column(Screen2, N2, logs) > 0),
    ?assertEqual(0, column(Screen2, N1, kills)),
    ?assertMatch({error, {exit, {signal, {budget_exceeded, concurrency}}}},
                 peer:call(maps:get(pid, P1), ?MODULE, remote_node, [Node], ?TIMEOUT)),
    edf_test_tmux:await(Socket, fun(S) -> has_rows(S, [N1]) andalso column(S, N1, kills) =:= 1 end),
    %% The policy's refusals are logged, and the view shows them.
    edf_test_tmux:await(Socket, fun(S) -> string:find(S, "erldist_filter_policy") =/= nomatch end),
    %% Sort by node name, then by redirects.
    edf_test_tmux:keys(Socket, "n"),
    ScreenN = edf_test_tmux:await(Socket, fun(S) -> string:find(S, "sort: node") =/= nomatch andalso has_rows(S, [N1, N2]) end),
    ?assertEqual([N1, N2], row_order(ScreenN, [N1, N2])),
    edf_test_tmux:keys(Socket, "r"),
    ScreenR = edf_test_tmux:await(Socket, fun(S) -> string:find(S, "sort: redirects") =/= nomatch andalso has_rows(S, [N1, N2]) end),
    ?assertEqual([N2, N1], row_order(ScreenR, [N1, N2])),
    %% Quit: the shell answers again, and the collector is gone.
    edf_test_tmux:keys(Socket, "q"),
    edf_test_tmux:await(Socket, fun(S) -> string:find(S, ")4>") =/= nomatch end),
    edf_test_tmux:keys(Socket, "{whereis(erldist_filter_top_collector), erldist_filter_telemetry:list_handlers()}."),
    edf_test_tmux:await(Socket, fun(S) -> string:find(S, "{undefined,[]}") =/= nomatch end).

%% `EDF_TOP=1 bash scripts/demo' runs the demo, then opens the live view
%% of victim 1 while the attacker keeps trying; `q' ends it and the demo
%% stops its peers.
demo_opens_live_view(_Config) ->
    Root = filename:absname(filename:join([code:lib_dir(erldist_filter), "..", "..", "..", ".."])),
    Socket = edf_test_tmux:start("EDF_TOP=1 bash scripts/demo; echo demo exited $?; sleep 600", #{cwd => Root}),
    try
        Screen = edf_test_tmux:await(Socket, fun(S) -> string:find(S, "erldist_filter top  victim1") =/= nomatch
                                                    andalso has_prefix_row(S, "attacker")
                                                    andalso has_prefix_row(S, "victim2") end, 240000),
        ct:log("~ts", [Screen]),
        %% The attacker's refused attempts show up as logged decisions.
        edf_test_tmux:await(Socket, fun(S) -> string:find(S, "what=erldist_filter_policy") =/= nomatch end),
        edf_test_tmux:keys(Socket, "q"),
        edf_test_tmux:await(Socket, fun(S) -> string:find(S, "demo exited 0") =/= nomatch end),
        ?assertNotEqual(nomatch, string:find(edf_test_tmux:capture(Socket), "Peers stopped."))
    after
        edf_test_tmux:stop(Socket)
    end.

%%% Helpers (test node)

has_prefix_row(Screen, Prefix) ->
    lists:any(fun([N | _]) -> lists:prefix(Prefix, N); (_) -> false end, rows(Screen)).

rows(Screen) ->
    [string:lexemes(L, " ") || L <- string:split(Screen, "\n", all)].

has_rows(Screen, Nodes) ->
    Names = [hd(R) || R <- rows(Screen), R =/= []],
    lists:all(fun(N) -> lists:member(N, Names) end, Nodes).

%% NODE PKTS/S BYTES/S DROPS REDIR LOGS LIMITS KILLS ATOMS
column(Screen, Node, Column) ->
    [Row] = [R || R = [N | _] <- rows(Screen), N =:= Node],
    Index = #{packets_per_sec => 2, redirects => 5, logs => 6, kills => 8},
    list_to_integer(lists:nth(maps:get(Column, Index), Row)).

row_order(Screen, Nodes) ->
    [N || [N | _] <- rows(Screen), lists:member(N, Nodes)].

%%% Helpers (peers)

%% @private Connect, then keep sending until the peer stops: every 50 ms
%% one ordinary send and `Refused' sends to `init' (the policy refuses
%% those).
traffic(Node, Refused) ->
    pong = net_adm:ping(Node),
    _ = spawn(fun() -> traffic_loop(Node, Refused, 0) end),
    ok.

%% @private An erpc call's outcome as a value.
remote_node(Node) ->
    try erpc:call(Node, erlang, node, [], ?TIMEOUT) of
        Result -> {ok, Result}
    catch
        Class:Reason -> {error, {Class, Reason}}
    end.

traffic_loop(Node, Refused, I) ->
    {edf_top_nobody, Node} ! {hello, I},
    [{init, Node} ! {edf_top_test, I} || _ <- lists:seq(1, Refused)],
    timer:sleep(50),
    traffic_loop(Node, Refused, I + 1).

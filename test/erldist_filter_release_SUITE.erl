%%% Real releases with the safe policy and operators, on loopback, built
%%% offline from this working tree.
%%%
%%% A mix release (`relapp': a tiny Erlang app depending on erldist_filter
%%% by path) runs with `safe_policy' on, `-proto_dist
%%% erldist_filter_inet_tcp' and the distribution listening on 127.0.0.1.
%%% Its `config/runtime.exs' sets `operators' to mix release's own hidden
%%% node names (`rpc-*', `rem-*') on loopback, unless `RELAPP_OPERATORS'
%%% is `none'. The release tools find it through an epmd the daemon starts
%%% on a port of this suite's own (`ERL_EPMD_PORT'), killed at the end.
%%%
%%% With operators the release's commands work and an ordinary peer (same
%%% host, same cookie) is still refused; without them the same commands
%%% are refused: the policy really is on in both. The interactive
%%% `remote' (mix) and `remote_console' (relx) run in a real terminal
%%% (`edf_test_tmux') and get the node's prompt. A node with an operator's
%%% name connecting from this host's non-loopback address is refused too.
%%%
%%% A relx release (`rxapp', `rebar3 release' with a git dependency on this
%%% repository at HEAD, so it tests the last commit) with `sys.config' and
%%% `vm.args.src', operators `[release_tools]' as for mix. relx's tools
%%% reach the node as `erl_call -R' (up to rebar3 3.23: a name this node
%%% makes up, the `dynamic' pattern) or, from rebar3 3.24 when vm.args has
%%% `-proto_dist', as its nodetool escript (`maint…'), and
%%% `remote_console' as `erl -name undefined@…' (dynamic again).
%%% `daemon', `ping', `eval', `rpc', `pid', `remote_console', `stop' work;
%%% an ordinary peer on loopback and one on the network address are still
%%% refused, and so is `erl_call' with a name of its own (`-r'), while
%%% `erl_call -R' is an operator. With a `sys.config' without operators
%%% (`RELX_CONFIG_PATH') `daemon' and `ping' still work (`erlang:is_alive/0'
%%% is on the safe allowlist) and the other commands are refused, with an
%%% answer. Where the release's `erl' boots from the system's root
%%% (Debian's OTP 29), the relx commands get `ERL_LIBS', as the README
%%% tells relx users there.
-module(erldist_filter_release_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0]).
-export([init_per_suite/1, end_per_suite/1]).
-export([init_per_testcase/2, end_per_testcase/2]).

-export([mix_release_tools_work_for_operators/1]).
-export([mix_release_tools_refused_without_operators/1]).
-export([mix_release_operator_name_from_network_refused/1]).
-export([relx_release_tools_work_for_operators/1]).
-export([relx_release_tools_refused_without_operators/1]).

-define(NODE, 'relapp@127.0.0.1').
-define(RX_NODE, 'rxapp@127.0.0.1').
-define(COOKIE, "erldist_filter_release_suite").

suite() ->
    [{timetrap, {minutes, 15}}].

all() ->
    [mix_release_tools_work_for_operators, mix_release_tools_refused_without_operators,
     mix_release_operator_name_from_network_refused, relx_release_tools_work_for_operators,
     relx_release_tools_refused_without_operators].

init_per_suite(Config) ->
    Root = filename:absname(filename:join([code:lib_dir(erldist_filter), "..", "..", "..", ".."])),
    case [Tool || Tool <- ["mix", "rebar3", "git", "cargo", "epmd"], os:find_executable(Tool) =:= false] of
        [] ->
            Dir = filename:join(?config(priv_dir, Config), "relapp"),
            ok = write_mix_release_project(Dir, edf_test_sh:normalize(Root)),
            edf_test_sh:build(Dir, "mix release --overwrite", [{"MIX_ENV", "prod"}]),
            RxDir = filename:join(?config(priv_dir, Config), "rxapp"),
            {0, Head} = edf_test_sh:run(Root, "git rev-parse HEAD", []),
            ok = write_relx_project(RxDir, edf_test_sh:normalize(Root), string:trim(Head)),
            edf_test_sh:build(RxDir, "rebar3 release", []),
            RxRel = filename:join(RxDir, "_build/default/rel/rxapp"),
            [{root, edf_test_sh:normalize(Root)}, {relapp, filename:join(Dir, "_build/prod/rel/relapp")},
             {rxapp, RxRel}, {rx_env, relx_helper_env(RxRel, ?config(priv_dir, Config))},
             {epmd_port, integer_to_list(free_port())} | Config];
        Missing ->
            {fail, {missing_tools, Missing}}
    end.

end_per_suite(Config) ->
    %% The epmd the daemons started on our port (every node is down now).
    {Status, Output} = edf_test_sh:run(".", "epmd -kill", [{"ERL_EPMD_PORT", ?config(epmd_port, Config)}]),
    ct:log("epmd -kill: exit ~b~n~ts", [Status, Output]),
    %% The clone's cargo target dir is large.
    _ = file:del_dir_r(filename:join(?config(priv_dir, Config), "rxapp")),
    ok.

init_per_testcase(_Case, Config) ->
    [{pid_file, filename:join(?config(priv_dir, Config), "relapp.pid")} | Config].

%% Whatever a failed case left running goes, by its OS pid.
end_per_testcase(_Case, Config) ->
    case file:read_file(?config(pid_file, Config)) of
        {ok, Pid} ->
            _ = edf_test_sh:run(".", "kill " ++ binary_to_list(Pid) ++ " 2>/dev/null", []),
            wait_until_down(Config);
        {error, _} ->
            ok
    end,
    _ = file:delete(?config(pid_file, Config)),
    ok.

%%% Test cases

mix_release_tools_work_for_operators(Config) ->
    Env = env(Config, []),
    start_daemon(Config, Env),
    %% The policy is really on.
    ?assertEqual({0, "true\n:erldist_filter_policy\n"},
                 rel(Config, "rpc ':erldist_filter_nif.config_get(:deep_packet_inspection) |> IO.inspect(); "
                             ":erldist_filter.handler_get() |> IO.inspect()'", Env)),
    OsPid = binary_to_list(element(2, file:read_file(?config(pid_file, Config)))),
    ?assertEqual({0, OsPid ++ "\n"}, rel(Config, "pid", Env)),
    %% An ordinary peer on the same host with the cookie: the allowlisted
    %% function runs (it is connected), the others are refused.
    with_peer(Config, fun(Peer) ->
        ?assertEqual(?NODE, peer:call(Peer, erpc, call, [?NODE, erlang, node, []])),
        ?assertEqual({exit, {exception, unauthorized}},
                     try peer:call(Peer, erpc, call, [?NODE, os, getpid, []])
                     catch Class:Reason -> {Class, Reason}
                     end),
        ?assertEqual({badrpc, {'EXIT', unauthorized}}, peer:call(Peer, rpc, call, [?NODE, os, getpid, []]))
    end),
    %% erl_call with a name of its own (`-r': c<N>) is no operator: its
    %% rex call is answered with the refusal, not left to time out. With a
    %% name this node made up (`-R', relx's way) it is one.
    ?assertEqual({0, "{badrpc, {'EXIT', unauthorized}}"}, erl_call(Config, ?NODE, "-r", "-a 'os getpid'", Env)),
    ?assertEqual({0, "\"" ++ OsPid ++ "\""}, erl_call(Config, ?NODE, "-R", "-a 'os getpid'", Env)),
    %% `remote' (a `rem-…' node) gets an iex prompt on the node.
    in_terminal(Config, "relapp", "remote", Env, fun(Socket) ->
        edf_test_tmux:await_text(Socket, "iex(relapp@127.0.0.1)1>"),
        edf_test_tmux:keys(Socket, ":erldist_filter_nif.config_get(:deep_packet_inspection)"),
        Screen = edf_test_tmux:await_text(Socket, "iex(relapp@127.0.0.1)2>"),
        ?assertMatch({match, _}, re:run(Screen, "^true\\s*$", [multiline]))
    end),
    ?assertMatch({0, _}, rel(Config, "stop", Env)),
    wait_until_down(Config).

mix_release_tools_refused_without_operators(Config) ->
    Env = env(Config, [{"RELAPP_OPERATORS", "none"}]),
    start_daemon(Config, Env),
    {Status, Output} = rel(Config, "rpc 'IO.puts(:ran)'", Env),
    ?assertNotEqual(0, Status),
    ?assertNotEqual(nomatch, string:find(Output, "unauthorized")),
    ?assertEqual(nomatch, string:find(Output, "ran")),
    ?assertNotEqual(0, element(1, rel(Config, "pid", Env))),
    ?assertNotEqual(0, element(1, rel(Config, "stop", Env))),
    %% Still up: stop was refused. Stop it by its OS pid.
    ?assertEqual(?NODE, with_peer(Config, fun(Peer) -> peer:call(Peer, erpc, call, [?NODE, erlang, node, []]) end)),
    {ok, OsPid} = file:read_file(?config(pid_file, Config)),
    {0, _} = edf_test_sh:run(".", "kill " ++ binary_to_list(OsPid), []),
    wait_until_down(Config).

%% A node named like mix release's rpc nodes, on this host, but connecting
%% from a non-loopback address of the host: the name alone is not enough.
mix_release_operator_name_from_network_refused(Config) ->
    case network_address() of
        undefined ->
            {skip, no_non_loopback_ipv4_address};
        Ip ->
            Env = env(Config, []),
            start_daemon(Config, Env),
            Options = #{name => peer:random_name('rpc-impostor'),
                        args => ["-kernel", "inet_dist_connect_options", lists:flatten(io_lib:format("[{ip,~w}]", [Ip]))]},
            with_peer(Config, Options, fun(Peer) ->
                ?assertEqual(?NODE, peer:call(Peer, erpc, call, [?NODE, erlang, node, []])),
                ?assertEqual({exit, {exception, unauthorized}},
                             try peer:call(Peer, erpc, call, [?NODE, os, getpid, []])
                             catch Class:Reason -> {Class, Reason}
                             end)
            end),
            %% The same name from loopback is an operator (the control).
            with_peer(Config, #{name => peer:random_name('rpc-local')}, fun(Peer) ->
                ?assertMatch(Pid when is_list(Pid), peer:call(Peer, erpc, call, [?NODE, os, getpid, []]))
            end),
            ?assertMatch({0, _}, rel(Config, "stop", Env)),
            wait_until_down(Config)
    end.

relx_release_tools_work_for_operators(Config) ->
    Env = env(Config, [{"RXAPP_COOKIE", ?COOKIE} | ?config(rx_env, Config)]),
    ?assertMatch({0, _}, rx(Config, "daemon", Env)),
    %% `daemon' returns once the node answers relx's probe (erl_call or nodetool).
    ?assertEqual({0, "pong\n"}, rx(Config, "ping", Env)),
    ?assertEqual({0, "true\n"}, rx(Config, "eval 'erldist_filter_nif:config_get(deep_packet_inspection).'", Env)),
    ?assertEqual({0, "erldist_filter_policy\n"}, rx(Config, "eval 'erldist_filter:handler_get().'", Env)),
    {0, PidLine} = rx(Config, "pid", Env),
    OsPid = string:trim(PidLine),
    %% erl_call exits 0 on a refusal too: the output says which.
    ?assertEqual({0, "\"" ++ OsPid ++ "\"\n"}, rx(Config, "rpc os getpid", Env)),
    ok = file:write_file(?config(pid_file, Config), OsPid),
    %% Not every loopback node: one with a name of its own is refused,
    %% a C node too (erl_call -r), one whose name this node made up is
    %% an operator (erl_call -R).
    with_peer(Config, fun(Peer) ->
        ?assertEqual(?RX_NODE, peer:call(Peer, erpc, call, [?RX_NODE, erlang, node, []])),
        ?assertEqual({badrpc, {'EXIT', unauthorized}}, peer:call(Peer, rpc, call, [?RX_NODE, os, getpid, []]))
    end),
    ?assertEqual({0, "{badrpc, {'EXIT', unauthorized}}"}, erl_call(Config, ?RX_NODE, "-r", "-a 'os getpid'", Env)),
    ?assertEqual({0, "\"" ++ OsPid ++ "\""}, erl_call(Config, ?RX_NODE, "-R", "-a 'os getpid'", Env)),
    %% `remote_console' (`-name undefined@127.0.0.1': a name this node
    %% makes up) gets the node's prompt.
    in_terminal(Config, "rxapp", "remote_console", Env, fun(Socket) ->
        edf_test_tmux:await_text(Socket, "(rxapp@127.0.0.1)1>"),
        edf_test_tmux:keys(Socket, "erldist_filter_nif:config_get(deep_packet_inspection)."),
        Screen = edf_test_tmux:await_text(Socket, "(rxapp@127.0.0.1)2>"),
        ?assertMatch({match, _}, re:run(Screen, "^true\\s*$", [multiline]))
    end),
    case network_address() of
        undefined ->
            ok;
        Ip ->
            Options = #{
                        args => ["-kernel", "inet_dist_connect_options", lists:flatten(io_lib:format("[{ip,~w}]", [Ip]))]},
            with_peer(Config, Options, fun(Peer) ->
                ?assertEqual(?RX_NODE, peer:call(Peer, erpc, call, [?RX_NODE, erlang, node, []])),
                ?assertEqual({badrpc, {'EXIT', unauthorized}}, peer:call(Peer, rpc, call, [?RX_NODE, os, getpid, []]))
            end)
    end,
    ?assertMatch({0, _}, rx(Config, "stop", Env)),
    wait_until_down(Config),
    ?assertMatch({1, "Node is not running!" ++ _}, rx(Config, "ping", Env)).

relx_release_tools_refused_without_operators(Config) ->
    NoOperators = filename:join(?config(priv_dir, Config), "no_operators.config"),
    ok = file:write_file(NoOperators, "[{erldist_filter, [{safe_policy, true}]}].\n"),
    Env = env(Config, [{"RXAPP_COOKIE", ?COOKIE}, {"RELX_CONFIG_PATH", NoOperators} | ?config(rx_env, Config)]),
    %% `daemon' returns: its readiness probe, erlang:is_alive(), is on the
    %% safe allowlist, and `ping' uses the same.
    ?assertMatch({0, _}, rx(Config, "daemon", Env)),
    poll(fun() -> filelib:is_regular(?config(pid_file, Config)) end, 60),
    ?assertEqual({0, "pong\n"}, rx(Config, "ping", Env)),
    Refused = case relx_rpc_tool(Config) of
                  %% erl_call prints the refusal and exits 0.
                  erl_call -> {0, "{badrpc, {'EXIT', unauthorized}}\n"};
                  nodetool -> {1, "RPC to 'rxapp@127.0.0.1' failed: {'EXIT',unauthorized}\n"}
              end,
    ?assertEqual(Refused, rx(Config, "eval 'erldist_filter:handler_get().'", Env)),
    ?assertEqual(Refused, rx(Config, "rpc os getpid", Env)),
    case relx_rpc_tool(Config) of
        nodetool ->
            %% `stop' is refused and fails (the script hides nodetool's
            %% output); the node is still up (below).
            ?assertEqual({1, ""}, rx(Config, "stop", Env));
        erl_call ->
            %% `stop' would wait for ever: erl_call exits 0 on the refusal,
            %% so the script waits for a node that does not go.
            ok
    end,
    %% Still up: stop it by its OS pid.
    ?assertEqual({0, "pong\n"}, rx(Config, "ping", Env)),
    {ok, OsPid} = file:read_file(?config(pid_file, Config)),
    {0, _} = edf_test_sh:run(".", "kill " ++ binary_to_list(OsPid), []),
    wait_until_down(Config).

%% What relx's helper escript (nodetool) needs to see the release's
%% libraries, the carrier among them: nothing where the release's
%% `erts-*/bin/erl' finds its root from where it lies (OTP 27's, a
%% binary); `ERL_LIBS' where it
%% has the system's root fixed in it (Debian's OTP 29 packages, copied as
%% is by rebar3 3.28), as the README's Releases section says.
relx_helper_env(Rel, Dir) ->
    Script = filename:join(Dir, "root_dir.escript"),
    %% Interpreted, as nodetool is: a release need not hold the compiler.
    ok = file:write_file(Script, "#!/usr/bin/env escript\n-mode(interpret).\nmain(_) -> io:put_chars(code:root_dir()).\n"),
    [Escript] = filelib:wildcard(filename:join([Rel, "erts-*", "bin", "escript"])),
    {0, RootDir} = edf_test_sh:run(".", Escript ++ " " ++ Script, []),
    Env = case filename:absname(RootDir) =:= filename:absname(Rel) of
              true -> [];
              false -> [{"ERL_LIBS", filename:join(Rel, "lib")}]
          end,
    ct:log("relx's escript boots from ~ts (the release: ~ts): helper env ~p", [RootDir, Rel, Env]),
    Env.

%% How relx's scripts reach the node for `rpc', `eval', `ping', `stop':
%% from rebar3 3.24 its nodetool escript when vm.args has `-proto_dist'
%% (erl_call has no carrier option), before that `erl_call -R'.
relx_rpc_tool(Config) ->
    {ok, Script} = file:read_file(filename:join([?config(rxapp, Config), "bin", "rxapp"])),
    case re:run(Script, "if \\[ \"\\$PROTO_DIST\" \\]; then\\s+ERL_RPC=relx_nodetool") of
        {match, _} -> nodetool;
        nomatch -> erl_call
    end.

%%% The releases

write_mix_release_project(Dir, Root) ->
    [ok = filelib:ensure_path(filename:join(Dir, D)) || D <- ["src", "config", "rel"]],
    ok = write(Dir, "mix.exs",
               ["defmodule Relapp.MixProject do\n"
                "  use Mix.Project\n"
                "  def project, do: [app: :relapp, version: \"0.1.0\", language: :erlang,\n"
                "                    deps: [{:erldist_filter, path: ", io_lib:format("~p", [Root]), "}],\n"
                "                    releases: [relapp: [include_executables_for: [:unix]]]]\n"
                "  def application, do: [mod: {:relapp_app, []}, extra_applications: [:kernel, :stdlib]]\n"
                "end\n"]),
    %% The app writes its OS pid where the test says, so that the test can
    %% stop a release whose tools are refused.
    ok = write(Dir, "src/relapp_app.erl", pid_file_app("relapp_app")),
    ok = write(Dir, "config/config.exs",
               "import Config\n"
               "config :erldist_filter, safe_policy: true\n"),
    ok = write(Dir, "config/runtime.exs",
               "import Config\n"
               "# mix release's own hidden nodes (bin/relapp rpc, remote, stop, pid), on loopback only.\n"
               "operators =\n"
               "  case System.get_env(\"RELAPP_OPERATORS\") do\n"
               "    \"none\" -> []\n"
               "    _ -> [:release_tools]\n"
               "  end\n"
               "config :erldist_filter, operators: operators\n"),
    ok = write(Dir, "rel/vm.args.eex",
               "-proto_dist erldist_filter_inet_tcp\n"
               "-kernel inet_dist_use_interface {127,0,0,1}\n"),
    write(Dir, "rel/env.sh.eex",
          "export RELEASE_DISTRIBUTION=name\n"
          "export RELEASE_NODE=relapp@127.0.0.1\n").

write_relx_project(Dir, Root, Head) ->
    [ok = filelib:ensure_path(filename:join(Dir, D)) || D <- ["src", "config"]],
    ok = write(Dir, "rebar.config",
               io_lib:format("{deps, [{erldist_filter, {git, ~p, {ref, ~p}}}]}.~n"
                             "{relx, [{release, {rxapp, \"0.1.0\"}, [rxapp, erldist_filter]},~n"
                             "        {sys_config, \"config/sys.config\"},~n"
                             "        {vm_args_src, \"config/vm.args.src\"},~n"
                             "        {mode, prod}]}.~n", ["file://" ++ Root, Head])),
    ok = write(Dir, "src/rxapp.app.src",
               "{application, rxapp, [{description, \"relx consumer\"}, {vsn, \"0.1.0\"},\n"
               " {mod, {rxapp_app, []}},\n"
               " {applications, [kernel, stdlib, erldist_filter]}, {modules, []}, {registered, []}]}.\n"),
    ok = write(Dir, "src/rxapp_app.erl", pid_file_app("rxapp_app")),
    %% relx's tools: nodetool's `maint…' names or names this node makes
    %% up (erl_call -R, remote_console), both in release_tools.
    ok = write(Dir, "config/sys.config",
               "[{erldist_filter, [{safe_policy, true},\n"
               "                   {operators, [release_tools]}]}].\n"),
    write(Dir, "config/vm.args.src",
          "-name rxapp@127.0.0.1\n"
          "-setcookie ${RXAPP_COOKIE}\n"
          "-proto_dist erldist_filter_inet_tcp\n"
          "-kernel inet_dist_use_interface {127,0,0,1}\n").

pid_file_app(Module) ->
    ["-module(", Module, ").\n"
     "-behaviour(application).\n"
     "-export([start/2, stop/1]).\n"
     "start(_Type, _Args) ->\n"
     "    case os:getenv(\"RELAPP_PID_FILE\") of\n"
     "        false -> ok;\n"
     "        File -> ok = file:write_file(File, os:getpid())\n"
     "    end,\n"
     "    {ok, spawn_link(fun() -> receive after infinity -> ok end end)}.\n"
     "stop(_State) -> ok.\n"].

start_daemon(Config, Env) ->
    ?assertMatch({0, _}, rel(Config, "daemon", Env)),
    %% Up means: the app has started (pid file) and the node answers a
    %% peer's connection.
    poll(fun() ->
                 filelib:is_regular(?config(pid_file, Config)) andalso
                     with_peer(Config, fun(Peer) -> peer:call(Peer, net_adm, ping, [?NODE]) end) =:= pong
         end, 60).

wait_until_down(Config) ->
    {ok, OsPid} = file:read_file(?config(pid_file, Config)),
    poll(fun() -> element(1, edf_test_sh:run(".", "kill -0 " ++ binary_to_list(OsPid) ++ " 2>/dev/null", [])) =/= 0 end, 60).

rx(Config, Command, Env) ->
    Bin = filename:join([?config(rxapp, Config), "bin", "rxapp"]),
    {Status, Output} = edf_test_sh:run(".", Bin ++ " " ++ Command, Env),
    ct:log("rxapp ~ts: exit ~b~n~ts", [Command, Status, Output]),
    {Status, Output}.

rel(Config, Command, Env) ->
    Bin = filename:join([?config(relapp, Config), "bin", "relapp"]),
    {Status, Output} = edf_test_sh:run(".", Bin ++ " " ++ Command, Env),
    ct:log("relapp ~ts: exit ~b~n~ts", [Command, Status, Output]),
    {Status, Output}.

%% `NameOption': `-R' (a name the node makes up) or `-r' (c<N>, erl_call's
%% own).
erl_call(Config, Node, NameOption, Args, Env) ->
    ErlCall = filename:join([code:lib_dir(erl_interface), "bin", "erl_call"]),
    {Status, Output} = edf_test_sh:run(".", ErlCall ++ " " ++ NameOption ++ " -c " ++ ?COOKIE ++ " -name "
                           ++ atom_to_list(Node) ++ " -timeout 20 " ++ Args, env(Config, Env)),
    ct:log("erl_call ~ts ~ts: exit ~b~n~ts", [NameOption, Args, Status, Output]),
    {Status, Output}.

%% The release's `Command' in a terminal (`edf_test_tmux'), for the
%% interactive ones; stopping the terminal stops the remote shell's node,
%% not the release.
in_terminal(Config, Rel, Command, Env, Fun) ->
    Bin = filename:join([?config(list_to_atom(Rel), Config), "bin", Rel]),
    Line = lists:join(" ", ["env"] ++ [K ++ "=" ++ V || {K, V} <- Env] ++ [Bin, Command, "; sleep 600"]),
    Socket = edf_test_tmux:start(lists:flatten(Line)),
    try Fun(Socket)
    after
        ct:log("~ts", [edf_test_tmux:capture(Socket)]),
        edf_test_tmux:stop(Socket)
    end.

env(Config, Extra) ->
    [{"ERL_EPMD_PORT", ?config(epmd_port, Config)},
     {"ERL_EPMD_ADDRESS", "127.0.0.1"},
     {"RELEASE_COOKIE", ?COOKIE},
     {"RELAPP_PID_FILE", ?config(pid_file, Config)} | Extra].

%% An ordinary node on the same host with the cookie: stock carrier, a
%% name no operator rule matches.
with_peer(Config, Fun) ->
    with_peer(Config, #{}, Fun).

%% `Options': `name', extra `args'.
with_peer(Config, Options, Fun) ->
    {ok, Peer, _Node} = peer:start(#{name => maps:get(name, Options, peer:random_name(ordinary)),
                                     host => "127.0.0.1", longnames => true,
                                     connection => standard_io,
                                     args => ["-setcookie", ?COOKIE | maps:get(args, Options, [])],
                                     env => [{"ERL_EPMD_PORT", ?config(epmd_port, Config)}]}),
    try Fun(Peer)
    after peer:stop(Peer)
    end.

%% A non-loopback IPv4 address of this host, if it has one.
network_address() ->
    {ok, Interfaces} = inet:getifaddrs(),
    case [A || {_, Opts} <- Interfaces, {addr, {B, _, _, _} = A} <- Opts, B =/= 127] of
        [A | _] -> A;
        [] -> undefined
    end.

poll(Fun, 0) ->
    ?assert(Fun());
poll(Fun, N) ->
    case Fun() of
        true -> ok;
        false ->
            receive after 500 -> ok end,
            poll(Fun, N - 1)
    end.

free_port() ->
    {ok, L} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(L),
    ok = gen_tcp:close(L),
    Port.

%%% Shell helpers (as in erldist_filter_packaging_SUITE)

write(Dir, File, Content) ->
    file:write_file(filename:join(Dir, File), Content).





%%% erldist_filter as a dependency: throwaway consumer projects in
%%% priv_dir, built offline (no hex), started, and made to call the NIF.
%%%
%%% - rebar3, git dependency on a `file://' URL of this repository at
%%%   HEAD: rebar3 clones it and builds the NIF from source (cargo).
%%%   (rebar3 3.19 has no `{path, ...}' dependencies; `_checkouts/' is the
%%%   local alternative.)
%%% - mix, path dependency on this working tree.
%%% - mix, git dependency at HEAD with cargo off the PATH and
%%%   `ERLDIST_FILTER_PREBUILT_NIF' pointing at a built NIF: what a user
%%%   without Rust does with a prebuilt one.
%%%
%%% Each consumer also finds the library's documentation (code:get_doc/1).
%%% The git cases test the last commit, not uncommitted changes. Last,
%%% `rebar3 edoc' (offline, like everything here) and h/1 in the shell.
-module(erldist_filter_packaging_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0]).
-export([init_per_suite/1, end_per_suite/1]).

-export([rebar3_git_dependency/1]).
-export([mix_path_dependency/1]).
-export([mix_git_dependency_prebuilt_nif/1]).
-export([edoc_builds_offline/1]).
-export([build_script_installs_macos_dylib_as_so/1]).
-export([docs_show_in_the_shell/1]).


suite() ->
    [{timetrap, {minutes, 15}}].

all() ->
    [rebar3_git_dependency, mix_path_dependency, mix_git_dependency_prebuilt_nif, edoc_builds_offline,
     build_script_installs_macos_dylib_as_so, docs_show_in_the_shell].

init_per_suite(Config) ->
    Root = filename:absname(filename:join([code:lib_dir(erldist_filter), "..", "..", "..", ".."])),
    {0, Head} = edf_test_sh:run(Root, "git rev-parse HEAD", []),
    Missing = [Tool || Tool <- ["git", "rebar3", "mix", "cargo"], os:find_executable(Tool) =:= false],
    case Missing of
        [] -> [{root, edf_test_sh:normalize(Root)}, {head, string:trim(Head)} | Config];
        _ -> {fail, {missing_tools, Missing}}
    end.

end_per_suite(Config) ->
    %% The clone's cargo target dir is large.
    _ = file:del_dir_r(filename:join(?config(priv_dir, Config), "rebar_consumer")),
    ok.

%%% Test cases

rebar3_git_dependency(Config) ->
    Dir = consumer_dir(Config, "rebar_consumer"),
    ok = write(Dir, "rebar.config",
               io_lib:format("{deps, [{erldist_filter, {git, ~p, {ref, ~p}}}]}.~n",
                             ["file://" ++ ?config(root, Config), ?config(head, Config)])),
    ok = write(Dir, "src/rebar_consumer.app.src",
               "{application, rebar_consumer, [{description, \"consumer\"}, {vsn, \"0.1.0\"},\n"
               " {applications, [kernel, stdlib, erldist_filter]}, {modules, []}, {registered, []}]}.\n"),
    ok = write(Dir, "src/rebar_consumer.erl", consumer_module("rebar_consumer")),
    edf_test_sh:build(Dir, "rebar3 compile", []),
    check(Dir, "erl -noshell -pa _build/default/lib/*/ebin -eval "
          "'rebar_consumer:check(), halt().'", []).

mix_path_dependency(Config) ->
    Dir = consumer_dir(Config, "mix_path_consumer"),
    ok = write(Dir, "mix.exs", mix_project("path: " ++ io_lib:format("~p", [?config(root, Config)]))),
    ok = write(Dir, "src/mix_path_consumer.erl", consumer_module("mix_path_consumer")),
    edf_test_sh:build(Dir, "mix deps.get && mix compile", []),
    check(Dir, "mix run -e ':mix_path_consumer.check()'", []),
    %% Mix builds the .app from mix.exs, rebar3 from the .app.src: same facts.
    {ok, [{application, erldist_filter, FromMix}]} =
        file:consult(filename:join(Dir, "_build/dev/lib/erldist_filter/ebin/erldist_filter.app")),
    {ok, [{application, erldist_filter, FromRebar}]} =
        file:consult(filename:join(?config(root, Config), "erlang_src/erldist_filter.app.src")),
    [?assertEqual({Key, proplists:get_value(Key, FromRebar)}, {Key, proplists:get_value(Key, FromMix)})
     || Key <- [description, vsn, mod, registered]].

mix_git_dependency_prebuilt_nif(Config) ->
    Dir = consumer_dir(Config, "mix_git_consumer"),
    Root = ?config(root, Config),
    ok = write(Dir, "mix.exs", mix_project(io_lib:format("git: ~p, ref: ~p",
                                                         ["file://" ++ Root, ?config(head, Config)]))),
    ok = write(Dir, "src/mix_git_consumer.erl", consumer_module("mix_git_consumer")),
    Prebuilt = filename:join([Root, "priv", "liberldist_filter_nif.so"]),
    Env = [{"ERLDIST_FILTER_PREBUILT_NIF", Prebuilt}, {"PATH", path_without_cargo()}],
    {Status, _} = edf_test_sh:run(Dir, "command -v cargo", Env),
    ?assertNotEqual(0, Status),
    edf_test_sh:build(Dir, "mix deps.get && mix compile", Env),
    ?assertNot(filelib:is_dir(filename:join([Dir, "deps", "erldist_filter", "target"]))),
    check(Dir, "mix run -e ':mix_git_consumer.check()'", Env).

%% `rebar3 edoc' documents every module of the library but the hidden
%% (internal) ones (into doc/).
edoc_builds_offline(Config) ->
    Root = ?config(root, Config),
    edf_test_sh:build(Root, "rebar3 edoc", []),
    [?assertEqual({M, not is_hidden(Root, M)},
                  {M, filelib:is_regular(filename:join([Root, "doc", M ++ ".html"]))})
     || M <- modules(Root)],
    ?assert(filelib:is_regular(filename:join([Root, "doc", "overview-summary.html"]))).

%% After every build (rebar3's post hook, mix's compiler step), each
%% module's documentation is inside its .beam: the shell's h/1 shows the
%% public API from the build's ebin alone, and nothing for internal modules.
docs_show_in_the_shell(Config) ->
    Root = ?config(root, Config),
    Ebin = filename:join(code:lib_dir(erldist_filter), "ebin"),
    {0, Shell} = edf_test_sh:run(Root, "erl -noshell -pa " ++ Ebin ++ " -eval 'c:h(erldist_filter), "
                     "c:h(erldist_filter, config_reload, 0), c:h(erldist_filter_sup), halt().'", []),
    ct:log("~ts", [Shell]),
    [?assertNotEqual(nomatch, string:find(Shell, Text))
     || Text <- ["User-facing entry points of erldist_filter", "world_stats_print/0",
                 "-spec config_reload()"]],
    %% An internal module: OTP 25 says there is no documentation, 27+
    %% that it is hidden.
    ?assertMatch({match, _}, re:run(Shell, "no documentation for erldist_filter_sup|"
                                           "documentation for erldist_filter_sup is hidden", [unicode])),
    [?assertMatch({M, {ok, {_, [{"Docs", _}]}}},
                  {M, beam_lib:chunks(filename:join(Ebin, M ++ ".beam"), ["Docs"])})
     || M <- modules(Root)].

modules(Root) ->
    [filename:basename(F, ".erl") || F <- filelib:wildcard(filename:join(Root, "erlang_src/*.erl"))].

%% `@hidden' in the module's own comment, on the line before `-module'.
is_hidden(Root, M) ->
    {ok, Src} = file:read_file(filename:join([Root, "erlang_src", M ++ ".erl"])),
    re:run(Src, "@hidden[^\n]*\n-module[(]") =/= nomatch.

%% cargo names the library .dylib on macOS; erlang:load_nif/2 wants .so.
%% A copy of build.sh runs in a scratch root with `uname' saying Darwin and
%% a `cargo' that leaves a .dylib where cargo would.
build_script_installs_macos_dylib_as_so(Config) ->
    Dir = filename:join(?config(priv_dir, Config), "buildsh"),
    Bin = filename:join(Dir, "fakebin"),
    ok = filelib:ensure_path(filename:join(Dir, "native")),
    ok = filelib:ensure_path(Bin),
    {ok, _} = file:copy(filename:join([?config(root, Config), "native", "build.sh"]),
                        filename:join([Dir, "native", "build.sh"])),
    ok = executable(Bin, "uname", "#!/bin/sh\necho Darwin\n"),
    ok = executable(Bin, "cargo", "#!/bin/sh\nmkdir -p target/release\n"
                                  "echo fake > target/release/liberldist_filter_nif.dylib\n"),
    {Status, Output} = edf_test_sh:run(Dir, "sh native/build.sh",
                           [{"PATH", Bin ++ ":" ++ os:getenv("PATH")}, {"CARGO_TARGET_DIR", false},
                            {"ERLDIST_FILTER_PREBUILT_NIF", false}]),
    ct:log("~ts", [Output]),
    ?assertEqual(0, Status),
    ?assertEqual({ok, <<"fake\n">>}, file:read_file(filename:join([Dir, "priv", "liberldist_filter_nif.so"]))),
    ?assertNotEqual(nomatch, string:find(Output, "native/build.sh: building the NIF")),
    ?assertNotEqual(nomatch, string:find(Output, "installed target/release/liberldist_filter_nif.dylib as "
                                                 ++ Dir ++ "/priv/liberldist_filter_nif.so")).

%%% Helpers

executable(Dir, Name, Text) ->
    File = filename:join(Dir, Name),
    ok = file:write_file(File, Text),
    file:change_mode(File, 8#755).

consumer_dir(Config, Name) ->
    Dir = filename:join(?config(priv_dir, Config), Name),
    ok = filelib:ensure_path(filename:join(Dir, "src")),
    Dir.

write(Dir, File, Content) ->
    file:write_file(filename:join(Dir, File), Content).

%% The consumer's own code: start its application (which needs
%% erldist_filter), open a channel, feed it a tick and read its counters.
consumer_module(Name) ->
    ["-module(", Name, ").\n"
     "-export([check/0]).\n"
     "check() ->\n"
     "    {ok, Started} = application:ensure_all_started(", Name, "),\n"
     "    true = lists:member(erldist_filter, Started) orelse\n"
     "           lists:keymember(erldist_filter, 1, application:which_applications()),\n"
     "    Ch = erldist_filter_nif:channel_open(4, 'peer@host', 1, 1, 16#3ffffffff),\n"
     "    Actions = erldist_filter_nif:channel_recv(Ch, [<<0,0,0,0>>]),\n"
     "    true = is_list(Actions),\n"
     "    #{entry := #{sysname := 'peer@host'}, rx := #{stats := #{dist_tick_count := 1}}} =\n"
     "        erldist_filter_nif:channel_inspect(Ch),\n"
     "    %% The docs travel inside the .beam files.\n"
     "    {ok, {docs_v1, _, erlang, _, #{<<\"en\">> := _}, _, [_ | _]}} = code:get_doc(erldist_filter),\n"
     "    io:format(\"CONSUMER_OK ~p~n\", [erldist_filter_nif:version()]).\n"].

mix_project(Dep) ->
    ["defmodule Consumer.MixProject do\n"
     "  use Mix.Project\n"
     "  def project, do: [app: :", app_of(Dep), ", version: \"0.1.0\", language: :erlang,\n"
     "                    deps: [{:erldist_filter, ", Dep, "}]]\n"
     "  def application, do: [extra_applications: [:kernel, :stdlib]]\n"
     "end\n"].

app_of(Dep) ->
    case string:find(lists:flatten(Dep), "git:") of
        nomatch -> "mix_path_consumer";
        _ -> "mix_git_consumer"
    end.


check(Dir, Command, Env) ->
    {Status, Output} = edf_test_sh:run(Dir, Command, Env),
    ct:log("~s: exit ~b~n~ts", [Command, Status, Output]),
    ?assertEqual(0, Status),
    ?assertNotEqual(nomatch, string:find(Output, "CONSUMER_OK")).



path_without_cargo() ->
    Dirs = string:split(os:getenv("PATH"), ":", all),
    string:join([D || D <- Dirs, not filelib:is_regular(filename:join(D, "cargo"))], ":").


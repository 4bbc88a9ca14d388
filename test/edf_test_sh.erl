%%% Shell commands for the suites that build consumer projects and
%%% releases (packaging, release): run one, bounded in time, and get its
%%% exit status and output; or require it to succeed.
-module(edf_test_sh).

-include_lib("stdlib/include/assert.hrl").

-export([run/3, build/3, normalize/1]).

%% Builds run cargo, rebar3 and mix from scratch: minutes, not hours.
-define(TIMEOUT_MS, 480000).

%% @doc A shell command's exit status and output (stdout and stderr),
%% run in `Dir' with `Env' added (`{Name, false}' unsets).
-spec run(file:filename(), string(), [{string(), string() | false}]) -> {integer(), string()}.
run(Dir, Command, Env) ->
    Port = open_port({spawn_executable, "/bin/sh"},
                     [{args, ["-c", Command]}, {cd, Dir}, {env, Env}, exit_status,
                      stderr_to_stdout, binary]),
    collect(Port, [], erlang:monotonic_time(millisecond) + ?TIMEOUT_MS).

%% @doc Run a command that must succeed; its output goes to the case log.
-spec build(file:filename(), string(), [{string(), string() | false}]) -> ok.
build(Dir, Command, Env) ->
    {Status, Output} = run(Dir, Command, Env),
    ct:log("~s (in ~s): exit ~b~n~ts", [Command, Dir, Status, Output]),
    ?assertEqual(0, Status),
    ok.

%% @doc A path without `.' and `..' parts (git and mix want it plain).
-spec normalize(file:filename()) -> file:filename().
normalize(Path) ->
    filename:join(normalize_parts(filename:split(Path), [])).

collect(Port, Acc, Deadline) ->
    receive
        {Port, {data, Data}} -> collect(Port, [Acc, Data], Deadline);
        {Port, {exit_status, Status}} -> {Status, unicode:characters_to_list(Acc)}
    after max(0, Deadline - erlang:monotonic_time(millisecond)) ->
            ct:fail({timeout, iolist_to_binary(Acc)})
    end.

normalize_parts([], Acc) -> lists:reverse(Acc);
normalize_parts([".." | Rest], [_ | Acc]) -> normalize_parts(Rest, Acc);
normalize_parts(["." | Rest], Acc) -> normalize_parts(Rest, Acc);
normalize_parts([Part | Rest], Acc) -> normalize_parts(Rest, [Part | Acc]).

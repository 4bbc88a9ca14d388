%%% The library's reports reach OTP's default logger handler on a node
%%% with the default logger configuration (erldist_filter_default_handler).
%%%
%%% The peers' default handler writes to a file instead of standard_io (the
%%% peer's standard I/O carries `peer''s control connection), synchronously.
%%% It is set through kernel's `logger' environment without `filters', so
%%% kernel gives it the same filters as the default handler of any node.
-module(erldist_filter_default_handler_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0]).
-export([refused_spawn_is_visible/1]).
-export([configuration_error_is_visible/1]).
-export([configuration_in_force_is_visible/1]).
-export([opting_out_leaves_the_default_filters/1]).
-export([try_erpc/1]).

suite() ->
    [{timetrap, {minutes, 2}}].

all() ->
    [refused_spawn_is_visible, configuration_error_is_visible,
     configuration_in_force_is_visible, opting_out_leaves_the_default_filters].

%% The safe policy refuses a remote os:getpid/0 and logs a warning.
refused_spawn_is_visible(Config) ->
    with_peer(Config, ["-erldist_filter", "safe_policy", "true"], fun(B, BNode) ->
        ok = call(B, application, start, [erldist_filter]),
        ?assertEqual({exit, {exception, unauthorized}}, erpc_from_a(BNode)),
        %% B logged the refusal before the refused process exited.
        Log = default_output(B),
        ?assertMatch({match, _}, re:run(Log, "WARNING REPORT.*DOP_SPAWN_REQUEST.*drop", [dotall])),
        ok
    end).

configuration_error_is_visible(Config) ->
    with_peer(Config, ["-erldist_filter", "safe_policy", "yes"], fun(P, _) ->
        {error, _} = call(P, application, start, [erldist_filter]),
        Log = default_output(P),
        ?assertMatch({match, _}, re:run(Log, "erldist_filter not started, bad configuration: "
                                             "\\{invalid_config,safe_policy,yes,\\[true,false\\]\\}")),
        ok
    end).

configuration_in_force_is_visible(Config) ->
    with_peer(Config, ["-erldist_filter", "safe_policy", "true"], fun(P, _) ->
        ok = call(P, application, start, [erldist_filter]),
        Log = default_output(P),
        ?assertMatch({match, _}, re:run(Log, "erldist_filter in force: safe_policy=true "
                                             "handler=erldist_filter_policy switches=\\[")),
        ok
    end).

%% The control: without our filter the default handler drops the report,
%% as it did on every plain node before.
opting_out_leaves_the_default_filters(Config) ->
    Args = ["-erldist_filter", "safe_policy", "true",
            "-erldist_filter", "log_to_default_handler", "false"],
    with_peer(Config, Args, fun(B, BNode) ->
        ok = call(B, application, start, [erldist_filter]),
        ?assertEqual({exit, {exception, unauthorized}}, erpc_from_a(BNode)),
        ?assertEqual(nomatch, re:run(default_output(B), "DOP_SPAWN_REQUEST")),
        ok
    end).

%%% Helpers

with_peer(Config, Args, Test) ->
    File = log_file(Config),
    %% Synchronous (sync_mode_qlen 0): a log call returns once the handler
    %% has taken the event, so what a peer sees after a refusal was logged
    %% before it; filters stay kernel's defaults.
    Logger = lists:flatten(io_lib:format("[{handler,default,logger_std_h,"
                                         "#{config=>#{file=>~p,sync_mode_qlen=>0}}}]",
                                         [File])),
    {ok, Peer = #{pid := Pid, node := Node}} =
        edf_test_peer:start(#{prefix => "dflt", args => ["-kernel", "logger", Logger | Args]}),
    try
        Test(Pid, Node)
    after
        edf_test_peer:stop(Peer)
    end.

%% A second, unfiltered-by-config peer calls `os:getpid()' on `BNode'.
erpc_from_a(BNode) ->
    {ok, A = #{pid := Pid}} = edf_test_peer:start(#{prefix => "dflta"}),
    try
        call(Pid, ?MODULE, try_erpc, [BNode])
    after
        edf_test_peer:stop(A)
    end.

%% @private On A.
try_erpc(Node) ->
    try erpc:call(Node, os, getpid, []) of
        R -> {ok, R}
    catch
        Class:Reason -> {Class, Reason}
    end.

log_file(Config) ->
    filename:join(?config(priv_dir, Config),
                  "default_" ++ integer_to_list(erlang:unique_integer([positive])) ++ ".log").

%% Everything the default handler wrote so far: filesync is a call to the
%% handler process, served after the events sent to it before.
default_output(P) ->
    ok = call(P, logger_std_h, filesync, [default]),
    {ok, #{config := #{file := File}}} = call(P, logger, get_handler_config, [default]),
    {ok, Bin} = file:read_file(File),
    Bin.

call(P, M, F, A) ->
    peer:call(P, M, F, A).

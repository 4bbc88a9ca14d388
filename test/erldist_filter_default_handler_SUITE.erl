%%% The library's reports reach OTP's default logger handler on a node
%%% with the default logger configuration (erldist_filter_default_handler).
%%%
%%% The peers' default handler writes to a file instead of standard_io (the
%%% peer's standard I/O carries `peer''s control connection). It is set
%%% through kernel's `logger' environment without `filters', so kernel
%%% gives it the same filters as the default handler of any node.
%%%
%%% The handler runs in its own process, fed asynchronously, and messages
%%% from two different processes may reach it in either order. So each
%%% report is logged by the process that then asks the handler to write
%%% its file out (`logger_std_h:filesync/1') and reads it (`then_read/3',
%%% on the peer): one sender, whose messages arrive in order.
-module(erldist_filter_default_handler_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0]).
-export([policy_warning_is_visible/1]).
-export([early_policy_warning_is_visible/1]).
-export([configuration_error_is_visible/1]).
-export([configuration_in_force_is_visible/1]).
-export([opting_out_leaves_the_default_filters/1]).
-export([missing_nif_stops_distribution_with_a_reason/1]).
-export([then_read/3]).
-export([policy_decides/1]).

suite() ->
    [{timetrap, {minutes, 2}}].

all() ->
    [policy_warning_is_visible, early_policy_warning_is_visible, configuration_error_is_visible,
     configuration_in_force_is_visible, opting_out_leaves_the_default_filters,
     missing_nif_stops_distribution_with_a_reason].

%% The safe policy refuses a spawn of os:getpid/0 from another node and
%% logs a warning; it lets erlang:node/0 run and logs a notice, which
%% stays out (one per kept operation would bury a console).
policy_warning_is_visible(Config) ->
    with_peer(Config, ["-erldist_filter", "safe_policy", "true"], fun(B) ->
        ok = call(B, application, start, [erldist_filter]),
        Log = call(B, ?MODULE, then_read, [?MODULE, policy_decides, ['a@127.0.0.1']]),
        %% One report with these fields (in the map's print order, which
        %% differs between OTP releases), not past the next report's `='.
        [?assertMatch({match, _}, re:run(Log, "WARNING REPORT(?:(?!\\R=).)*\\R +" ++ Field ++ "\\R",
                                         [dotall]), Field)
         || Field <- ["decision: drop", "dop: 'DOP_SPAWN_REQUEST'", "mfa: \\{os,getpid,0\\}",
                      "node: 'a@127\\.0\\.0\\.1'"]],
        ?assertEqual(nomatch, re:run(Log, "decision: keep")),
        ok
    end).

%% Before the application starts (a refusal on a connection made during
%% boot): the NIF has loaded with the safe policy, the application is
%% only loaded, and the refusal is on the console all the same.
early_policy_warning_is_visible(Config) ->
    with_peer(Config, ["-erldist_filter", "safe_policy", "true"], fun(B) ->
        ?assertEqual(true, call(B, erldist_filter_nif, config_get, [deep_packet_inspection])),
        ?assertEqual(false, lists:keymember(erldist_filter, 1, call(B, application, which_applications, []))),
        Log = call(B, ?MODULE, then_read, [?MODULE, policy_decides, ['a@127.0.0.1']]),
        ?assertMatch({match, _}, re:run(Log, "WARNING REPORT.*mfa: \\{os,getpid,0\\}", [dotall])),
        %% The start finds the filter there and adds no second one.
        ok = call(B, application, start, [erldist_filter]),
        {ok, #{filters := Filters}} = call(B, logger, get_handler_config, [default]),
        ?assertEqual(1, length([F || {erldist_filter, _} = F <- Filters])),
        ok
    end).

configuration_error_is_visible(Config) ->
    with_peer(Config, [], fun(B) ->
        ok = call(B, application, start, [erldist_filter]),
        ok = call(B, application, set_env, [erldist_filter, safe_policy, yes]),
        Log = call(B, ?MODULE, then_read, [erldist_filter, config_reload, []]),
        ?assertMatch({match, _}, re:run(Log, "ERROR REPORT.*erldist_filter configuration refused, "
                                             "nothing changed: \\{invalid_config,safe_policy,yes,"
                                             "\\[true,false\\]\\}", [dotall])),
        ok
    end).

configuration_in_force_is_visible(Config) ->
    with_peer(Config, ["-erldist_filter", "safe_policy", "true"], fun(B) ->
        ok = call(B, application, start, [erldist_filter]),
        Log = call(B, ?MODULE, then_read, [erldist_filter, config_reload, []]),
        ?assertMatch({match, _}, re:run(Log, "erldist_filter in force: safe_policy=true "
                                             "handler=erldist_filter_policy switches=\\[")),
        ok
    end).

%% The control: without our filter the default handler drops the report,
%% as it did on every plain node before.
opting_out_leaves_the_default_filters(Config) ->
    Args = ["-erldist_filter", "safe_policy", "true",
            "-erldist_filter", "log_to_default_handler", "false"],
    with_peer(Config, Args, fun(B) ->
        ok = call(B, application, start, [erldist_filter]),
        Log = call(B, ?MODULE, then_read, [?MODULE, policy_decides, ['a@127.0.0.1']]),
        ?assertEqual(nomatch, re:run(Log, "DOP_SPAWN_REQUEST")),
        ok
    end).

%% A copy of the library without its NIF, started with the carrier: the
%% node does not start distribution, and the reason, which the VM prints at
%% boot (before any logger does), names the missing file and the fix. The
%% control: the build itself, same command, comes up distributed.
missing_nif_stops_distribution_with_a_reason(Config) ->
    Ebin = filename:join(code:lib_dir(erldist_filter), "ebin"),
    Copy = filename:join([?config(priv_dir, Config), "no_nif", "erldist_filter"]),
    ok = filelib:ensure_path(filename:join(Copy, "priv")),
    {0, _} = edf_test_sh:run(Copy, "cp -r " ++ Ebin ++ " ebin", []),
    Boot = fun(Dir) ->
               edf_test_sh:run(Dir, "erl -noshell -pa " ++ filename:join(Dir, "ebin") ++
                                    " -name nonif@127.0.0.1 -proto_dist erldist_filter_inet_tcp"
                                    " -eval 'io:format(\"up ~p~n\", [node()]), halt().'", [])
           end,
    {Status, Output} = Boot(Copy),
    ct:log("~ts", [Output]),
    ?assertNotEqual(0, Status),
    ?assertNotEqual(nomatch, string:find(Output, filename:join(Copy, "priv/liberldist_filter_nif.so")
                                                 ++ " is missing; build and install it")),
    ?assertEqual(nomatch, string:find(Output, "up ")),
    ?assertMatch({0, "up 'nonif@127.0.0.1'" ++ _}, Boot(filename:dirname(Ebin))).

%%% On the peer

%% @private Apply `M:F(A...)', then return everything the default handler
%% has written (after the events this process logged).
then_read(M, F, A) ->
    _ = apply(M, F, A),
    ok = logger_std_h:filesync(default),
    {ok, #{config := #{file := File}}} = logger:get_handler_config(default),
    {ok, Bin} = file:read_file(File),
    Bin.

%% @private The decisions the policy takes (and logs) in every process a
%% remote node spawns, taken here in this one.
policy_decides(From) ->
    Node = node(),
    Node = erldist_filter_policy:spawn_request_init(From, erlang, node, []),
    try erldist_filter_policy:spawn_request_init(From, os, getpid, []) of
        Pid -> error({ran, Pid})
    catch
        exit:unauthorized -> ok
    end.

%%% Helpers

with_peer(Config, Args, Test) ->
    File = filename:join(?config(priv_dir, Config),
                         "default_" ++ integer_to_list(erlang:unique_integer([positive])) ++ ".log"),
    Logger = lists:flatten(io_lib:format("[{handler,default,logger_std_h,#{config=>#{file=>~p}}}]",
                                         [File])),
    {ok, Peer = #{pid := Pid}} =
        edf_test_peer:start(#{prefix => "dflt", args => ["-kernel", "logger", Logger | Args]}),
    try
        Test(Pid)
    after
        edf_test_peer:stop(Peer)
    end.

call(P, M, F, A) ->
    peer:call(P, M, F, A).

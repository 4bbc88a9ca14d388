%%% The default safe policy leaks no secret (issue 16).
%%%
%%% Two victims hold the same planted secrets: the cookie, a cookie set
%%% with `erlang:set_cookie/2' for another node, an environment variable,
%%% a file, another application's environment, a process dictionary entry
%%% and an ETS row. A stock `inet_tcp' attacker asks each victim, over
%%% `erpc' (spawn requests) and `rpc:block_call' (`rex'), for every
%%% function the default allowlist names with every argument we know
%%% (`erlang:system_info(procs)' dumps every process: cookie, dictionaries,
%%% heaps), and for the secrets directly.
%%%
%%% Control: the stock victim leaks every secret (so the check can fail).
%%% The victim with the one-line safe policy leaks none: no secret's text
%%% occurs anywhere in any answer.
-module(erldist_filter_secrets_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0]).
-export([init_per_suite/1, end_per_suite/1]).
-export([stock_victim_leaks_every_secret/1]).
-export([safe_victim_leaks_none/1]).

%% Run on the peers
-export([plant/2]).
-export([ask/2]).

-define(TIMEOUT, 60000).
-define(COOKIE, edf_secret_cookie_q7).
-define(OTHER_COOKIE, edf_secret_other_cookie_q7).

suite() ->
    [{timetrap, {minutes, 3}}].

all() ->
    [stock_victim_leaks_every_secret, safe_victim_leaks_none].

init_per_suite(Config) ->
    Dir = ?config(priv_dir, Config),
    Common = #{cookie => ?COOKIE, args => ["-connect_all", "false"]},
    {ok, Stock} = edf_test_peer:start(Common#{carrier => stock_inet, prefix => "stock"}),
    {ok, Safe} = edf_test_peer:start(Common#{carrier => filter_inet, prefix => "safe",
                                             args => ["-erldist_filter", "safe_policy", "true",
                                                      "-connect_all", "false"]}),
    {ok, Attacker} = edf_test_peer:start(Common#{carrier => stock_inet, prefix => "attacker"}),
    Secrets = [call(V, ?MODULE, plant, [app_dir(), Dir]) || V <- [Stock, Safe]],
    [S, S] = Secrets,
    [{stock, Stock}, {safe, Safe}, {attacker, Attacker}, {secrets, S} | Config].

end_per_suite(Config) ->
    edf_test_peer:stop_all([?config(K, Config) || K <- [attacker, stock, safe]]),
    ok.

%%% Test cases

stock_victim_leaks_every_secret(Config) ->
    Leaks = leaks(Config, stock),
    ct:pal("stock leaks: ~p", [Leaks]),
    ?assertEqual(lists:sort(?config(secrets, Config)), lists:usort([S || {S, _} <- Leaks])).

safe_victim_leaks_none(Config) ->
    ?assertEqual([], leaks(Config, safe)),
    Safe = ?config(safe, Config),
    ?assertEqual(node_of(Safe), call(Safe, erlang, node, [])).

%%% Helpers

%% Every `{Secret, Request}' whose answer contains the secret's text.
leaks(Config, Victim) ->
    V = ?config(Victim, Config),
    Holder = call(V, erlang, whereis, [edf_secret_holder]),
    Answers = call(?config(attacker, Config), ?MODULE, ask, [node_of(V), requests(Config, Holder)]),
    [{Secret, Request} || {Request, Answer} <- Answers,
                          Secret <- ?config(secrets, Config),
                          contains(Answer, Secret)].

contains(Answer, Secret) ->
    binary:match(term_to_binary(Answer), list_to_binary(Secret)) =/= nomatch.

%% What the attacker asks: the allowlisted functions with every argument,
%% then the secrets directly.
requests(Config, Holder) ->
    Items = [procs, info, dist, loaded, allocated_areas, dist_ctrl, os_monotonic_time_source,
             otp_release, version, system_version, process_count, atom_count, ets_count,
             schedulers, wordsize, machine, creation, logical_processors, {allocator, sys_alloc}],
    Stats = [context_switches, exact_reductions, garbage_collection, io, reductions, run_queue,
             runtime, wall_clock, total_run_queue_lengths, active_tasks, run_queue_lengths],
    Allowed = [{erlang, node, []}, {erlang, is_alive, []}, {erlang, nodes, []}, {erlang, nodes, [known]},
               {erlang, nodes, [[visible, hidden]]}]
        ++ [{erlang, system_info, [I]} || I <- Items]
        ++ [{erlang, statistics, [S]} || S <- Stats],
    File = secret_file(?config(priv_dir, Config)),
    Direct = [{erlang, get_cookie, []}, {erlang, get_cookie, ['other@nowhere']},
              {os, getenv, ["EDF_SECRET_ENV"]}, {os, getenv, []}, {file, read_file, [File]},
              {application, get_env, [edf_secret_app, key]},
              {erlang, process_info, [Holder, dictionary]}, {ets, tab2list, [edf_secret_tab]},
              {init, get_arguments, []}],
    [{erpc, R} || R <- Allowed ++ Direct] ++ [{rex, R} || R <- Allowed ++ Direct].

%%% Attacker side

%% @private Ask `Node' every request; `{Request, Answer}' each.
ask(Node, Requests) ->
    [{R, via(Via, Node, M, F, A)} || {Via, {M, F, A}} = R <- Requests].

via(erpc, Node, M, F, A) -> erpc_or_error(Node, M, F, A);
via(rex, Node, M, F, A) -> rpc:block_call(Node, M, F, A, 10000).

erpc_or_error(Node, M, F, A) ->
    try erpc:call(Node, M, F, A, 10000)
    catch Class:Reason -> {Class, Reason}
    end.

%%% Victim side

%% @private Plant the secrets (the cookie came from the command line);
%% return their texts.
plant(AppDir, Dir) ->
    true = code:add_pathz(AppDir),
    {ok, _} = application:ensure_all_started(erldist_filter),
    true = erlang:set_cookie('other@nowhere', ?OTHER_COOKIE),
    true = os:putenv("EDF_SECRET_ENV", "edf_secret_env_q7"),
    ok = file:write_file(secret_file(Dir), <<"edf_secret_file_q7">>),
    ok = application:set_env(edf_secret_app, key, "edf_secret_app_env_q7"),
    Parent = self(),
    Holder = spawn(fun() ->
                           put(secret, "edf_secret_pdict_q7"),
                           edf_secret_tab = ets:new(edf_secret_tab, [named_table, public]),
                           true = ets:insert(edf_secret_tab, {key, "edf_secret_ets_q7"}),
                           Parent ! {self(), planted},
                           receive stop -> ok end
                   end),
    true = register(edf_secret_holder, Holder),
    receive {Holder, planted} -> ok end,
    [atom_to_list(?COOKIE), atom_to_list(?OTHER_COOKIE), "edf_secret_env_q7",
     "edf_secret_file_q7", "edf_secret_app_env_q7", "edf_secret_pdict_q7", "edf_secret_ets_q7"].

secret_file(Dir) ->
    filename:join(Dir, "edf_secret.txt").

app_dir() ->
    filename:dirname(code:where_is_file("erldist_filter.app")).

node_of(#{node := Node}) -> Node.
call(#{pid := Pid}, M, F, A) -> peer:call(Pid, M, F, A, ?TIMEOUT).

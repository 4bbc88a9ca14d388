%%% The logger between real peers: the talk's ping/pong demo with
%%% `untrusted' on (what each side logs), and the bounded queue dropping
%%% its oldest events.
-module(erldist_filter_logger_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
-include_lib("erldist_filter/include/udist.hrl").

%% ct callbacks
-export([all/0, groups/0, suite/0]).
-export([init_per_suite/1, end_per_suite/1]).
-export([init_per_group/2, end_per_group/2]).
-export([init_per_testcase/2, end_per_testcase/2]).

%% Test cases
-export([ping_pong_is_logged/1]).
-export([full_queue_drops_oldest/1]).

%% Run on the peers
-export([setup_node/1]).
-export([start_logger_pool/0]).
-export([start_logger_owner/0]).
-export([logger_owner_cmd/1]).
-export([start_sink/1]).
-export([sink_fetch/0]).
-export([send_seq/2]).

-define(TIMEOUT, 30000).

suite() ->
    [{timetrap, {minutes, 3}}].

all() ->
    [{group, inet}, {group, inet6}].

groups() ->
    Cases = [ping_pong_is_logged, full_queue_drops_oldest],
    [{inet, [], Cases}, {inet6, [], Cases}].

init_per_suite(Config) ->
    {module, erldist_filter_nif} = code:ensure_loaded(erldist_filter_nif),
    true = erlang:function_exported(erldist_filter_nif, logger_recv, 1),
    Config.

end_per_suite(_Config) ->
    ok.

init_per_group(inet, Config) -> [{carrier, filter_inet} | Config];
init_per_group(inet6, Config) -> [{carrier, filter_inet6} | Config].

end_per_group(_Group, _Config) ->
    ok.

init_per_testcase(_TestCase, Config) ->
    Options = #{carrier => ?config(carrier, Config), prefix => "edfl",
                args => ["-connect_all", "false"]},
    {ok, [A, B] = Peers} = edf_test_peer:start_many(2, Options),
    AppDir = filename:dirname(code:where_is_file("erldist_filter.app")),
    ok = call(A, ?MODULE, setup_node, [AppDir]),
    ok = call(B, ?MODULE, setup_node, [AppDir]),
    [{peers, Peers} | Config].

end_per_testcase(_TestCase, Config) ->
    edf_test_peer:stop_all(?config(peers, Config)),
    ok.

%%% Test cases

%% The talk: A pings B. B logs A's MONITOR_P, the `is_auth' call to
%% net_kernel and the DEMONITOR_P; A logs B's alias reply.
ping_pong_is_logged(Config) ->
    [A, B] = ?config(peers, Config),
    NodeA = node_of(A),
    NodeB = node_of(B),
    ok = call(A, ?MODULE, start_logger_pool, []),
    ok = call(B, ?MODULE, start_logger_pool, []),
    ?assertEqual(pong, call(A, net_adm, ping, [NodeB])),
    OnB = call(B, edf_test_logger, await,
               [1, fun(Es) -> lists:keymember(udist_dop_demonitor_p, 1, controls(Es)) end, ?TIMEOUT]),
    ?assertMatch([#udist_dop_monitor_p{to_proc = net_kernel, ref = Ref},
                  #udist_dop_reg_send{to_name = net_kernel},
                  #udist_dop_demonitor_p{to_proc = net_kernel, ref = Ref}],
                 [C || {_, N, C} <- controls_from(OnB), N =:= NodeA, is_to_net_kernel(C)]),
    [{_, _, _, IsAuth}] = [E || E = {_, NodeA1, #udist_dop_reg_send{to_name = net_kernel}, _} <- OnB,
                                 NodeA1 =:= NodeA],
    ?assertMatch({'$gen_call', {_, [alias | _]}, {is_auth, NodeA}}, IsAuth),
    %% The reply: an ALIAS_SEND in the talk (OTP 26); OTP 25's net_kernel
    %% answers the caller's pid (SEND_SENDER) with the alias in the tag.
    IsYes = fun(E) -> tuple_size(E) =:= 4 andalso is_yes(element(4, E)) end,
    OnA = call(A, edf_test_logger, await, [1, fun(Es) -> lists:any(IsYes, Es) end, ?TIMEOUT]),
    [{_, NodeB1, Reply, {[alias | _], yes}}] = lists:filter(IsYes, OnA),
    ?assertEqual(NodeB, NodeB1),
    ?assert(lists:member(udist:get_dop_group(Reply), [send_to_alias, send_to_pid])),
    %% Times are monotonic nanoseconds, oldest first.
    Times = [element(1, E) || E <- OnB],
    ?assertEqual(lists:sort(Times), Times).

%% Capacity 2, three logged messages: one `logger_recv' returns the two
%% newest and counts the older ones dropped.
full_queue_drops_oldest(Config) ->
    [A, B] = ?config(peers, Config),
    NodeA = node_of(A),
    NodeB = node_of(B),
    ?assertEqual(pong, call(A, net_adm, ping, [NodeB])),
    _ = call(B, erldist_filter_nif, logger_set_capacity, [2]),
    ok = call(B, ?MODULE, start_logger_owner, []),
    drained = call(B, ?MODULE, logger_owner_cmd, [drain]),
    #{received := Received0, dropped := Dropped0} = call(B, ?MODULE, logger_owner_cmd, [inspect]),
    ok = call(B, ?MODULE, start_sink, [3]),
    ok = call(A, ?MODULE, send_seq, [NodeB, 3]),
    ?assertEqual([{edf_seq, 1}, {edf_seq, 2}, {edf_seq, 3}], call(B, ?MODULE, sink_fetch, [])),
    %% A's node may send something of its own to B in the same window (a
    %% demonitor, a service of a newer OTP), so the check is on what must
    %% hold whatever else arrived: the queue keeps the newest two, the
    %% oldest sequence message is gone, and the owner's counters agree with
    %% what it was handed.
    {2, DroppedNow, Kept} = call(B, ?MODULE, logger_owner_cmd, [recv]),
    ?assert(DroppedNow >= 1),
    ?assert(lists:all(fun({_, {Sender, _, _, _}}) -> Sender =:= NodeA end, Kept)),
    Seqs = [P || E <- Kept, {edf_seq, _} = P <- [payload(E)]],
    ?assertEqual({edf_seq, 3}, lists:last(Seqs)),
    ?assertNot(lists:member({edf_seq, 1}, Seqs)),
    #{received := Received, dropped := Dropped} = call(B, ?MODULE, logger_owner_cmd, [inspect]),
    ?assertEqual(DroppedNow, Dropped - Dropped0),
    ?assertEqual(2, Received - Received0).

%%% Helpers (test node)

node_of(#{node := Node}) -> Node.
call(#{pid := Pid}, M, F, A) -> peer:call(Pid, M, F, A, ?TIMEOUT * 2).

is_to_net_kernel(#udist_dop_monitor_p{to_proc = net_kernel}) -> true;
is_to_net_kernel(#udist_dop_demonitor_p{to_proc = net_kernel}) -> true;
is_to_net_kernel(#udist_dop_reg_send{to_name = net_kernel}) -> true;
is_to_net_kernel(_) -> false.

is_yes({[alias | _], yes}) -> true;
is_yes(_) -> false.

controls(Events) -> [element(3, E) || E <- Events].
controls_from(Events) -> [{element(1, E), element(2, E), element(3, E)} || E <- Events].

payload({_Time, {_Sysname, Atoms, _Control, PayloadBin}}) ->
    erts_debug:dist_ext_to_term(Atoms, PayloadBin).

%%% Helpers (peers)

%% @private Filter on, everything logged and redirected, no handler (the
%% built-in hints keep the ping working).
setup_node(AppDir) ->
    true = code:add_pathz(AppDir),
    {ok, _} = application:ensure_all_started(erldist_filter),
    ok = erldist_filter_nif:config_set(#{deep_packet_inspection => true, logging => true,
                                         redirect_dist_operations => true, untrusted => true}),
    _ = erldist_filter_nif:logger_set_capacity(1000),
    ok.

%% @private One `edf_test_logger' worker, under the application's tree.
start_logger_pool() ->
    {ok, _} = supervisor:start_child(erldist_filter_sup,
                                     erldist_filter_logger_sup:child_spec(edf_test_logger, [], 1)),
    ok.

%% @private A process owning a NIF logger, driven by `logger_owner_cmd/1'.
start_logger_owner() ->
    Parent = self(),
    Pid = spawn(fun() ->
                        Logger = erldist_filter_nif:logger_open(),
                        Parent ! {self(), ready},
                        owner_loop(Logger)
                end),
    receive {Pid, ready} -> ok end,
    true = register(edf_logger_owner, Pid),
    ok.

owner_loop(Logger) ->
    receive
        {cmd, From, drain} ->
            From ! {reply, drain(Logger)};
        {cmd, From, recv} ->
            From ! {reply, erldist_filter_nif:logger_recv(Logger)};
        {cmd, From, inspect} ->
            From ! {reply, erldist_filter_nif:logger_inspect(Logger)};
        {'$logger', Logger, select, _Ref} ->
            ok
    end,
    owner_loop(Logger).

drain(Logger) ->
    case erldist_filter_nif:logger_recv(Logger) of
        {select, _} -> drained;
        {_, _, _} -> drain(Logger);
        Error -> Error
    end.

%% @private
logger_owner_cmd(Cmd) ->
    edf_logger_owner ! {cmd, self(), Cmd},
    receive {reply, Reply} -> Reply after ?TIMEOUT -> timeout end.

%% @private
start_sink(N) ->
    Parent = self(),
    Pid = spawn(fun() -> Parent ! {self(), ready}, sink(N, []) end),
    receive {Pid, ready} -> ok end,
    true = register(edf_sink, Pid),
    ok.

sink(0, Acc) ->
    receive {fetch, From} -> From ! {sunk, lists:reverse(Acc)} end;
sink(N, Acc) ->
    receive {edf_seq, _} = Msg -> sink(N - 1, [Msg | Acc]) end.

%% @private
sink_fetch() ->
    edf_sink ! {fetch, self()},
    receive {sunk, Msgs} -> Msgs after ?TIMEOUT -> timeout end.

%% @private
send_seq(Node, N) ->
    lists:foreach(fun(I) -> {edf_sink, Node} ! {edf_seq, I} end, lists:seq(1, N)).

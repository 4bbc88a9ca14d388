%%% Redirected operations and spawn requests through the Erlang side:
%%% routers, per-node handler workers, the built-in hints and a user
%%% handler (`edf_test_handler'), between real peers (A attacks, B is the
%%% victim; both run the filter with deep packet inspection and redirect
%%% on and the handler set, unless the group says otherwise).
%%%
%%% Groups: `inet' and `inet6' (the talk's policy and its keep-all variant),
%%% `no_handler' (decision 1: no handler set).
-module(erldist_filter_handler_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
-include_lib("erldist_filter/include/udist.hrl").

%% ct callbacks
-export([all/0, groups/0, suite/0]).
-export([init_per_group/2, end_per_group/2]).
-export([init_per_testcase/2, end_per_testcase/2]).

%% Test cases
-export([erpc_allowed_call_works/1]).
-export([erpc_halt_is_unauthorized/1]).
-export([start_child_is_dropped/1]).
-export([io_request_is_dropped/1]).
-export([kept_operations_run_in_order/1]).
-export([kept_drop_hints_are_executed/1]).
-export([forged_router_messages_are_rejected/1]).
-export([remote_cannot_address_routers/1]).
-export([no_handler_link_is_dropped/1]).
-export([no_handler_erpc_returns/1]).

%% Run on the peers
-export([setup_node/3]).
-export([diagnostics/0]).
-export([catch_apply/3]).
-export([still_up/1]).
-export([start_child_on/2]).
-export([child_ids/0]).
-export([io_request_to/1]).
-export([trace_receive/1]).
-export([traced_messages/1]).
-export([start_sink/1]).
-export([sink_loop/2]).
-export([sink_fetch/1]).
-export([send_seq/3]).
-export([forge/1]).
-export([send_to_router/3]).
-export([link_and_kill/1]).
-export([linkee/0]).
-export([start_linkee/0]).

-define(TIMEOUT, 30000).

suite() ->
    [{timetrap, {minutes, 3}}].

all() ->
    [{group, inet}, {group, inet6}, {group, no_handler}].

groups() ->
    Handler = [erpc_allowed_call_works, erpc_halt_is_unauthorized, start_child_is_dropped,
               io_request_is_dropped, kept_operations_run_in_order, kept_drop_hints_are_executed,
               forged_router_messages_are_rejected, remote_cannot_address_routers],
    [{inet, [], Handler},
     {inet6, [], Handler},
     {no_handler, [], [no_handler_link_is_dropped, no_handler_erpc_returns]}].

init_per_group(inet, Config) ->
    [{carrier, filter_inet}, {handler, edf_test_handler} | Config];
init_per_group(inet6, Config) ->
    [{carrier, filter_inet6}, {handler, edf_test_handler} | Config];
init_per_group(no_handler, Config) ->
    [{carrier, filter_inet}, {handler, undefined} | Config].

end_per_group(_Group, _Config) ->
    ok.

init_per_testcase(TestCase, Config) ->
    %% Four schedulers: several routers, so a node name can map elsewhere.
    Options = #{carrier => ?config(carrier, Config), prefix => "edfh",
                args => ["+S", "4", "-connect_all", "false"]},
    {ok, [A, B] = Peers} = edf_test_peer:start_many(2, Options),
    Mode = case TestCase of
               kept_operations_run_in_order -> keep_all;
               kept_drop_hints_are_executed -> keep_all;
               forged_router_messages_are_rejected -> keep_all;
               remote_cannot_address_routers -> keep_all;
               _ -> talk
           end,
    Handler = ?config(handler, Config),
    AppDir = app_dir(),
    ok = call(A, ?MODULE, setup_node, [AppDir, Handler, Mode]),
    ok = call(B, ?MODULE, setup_node, [AppDir, Handler, Mode]),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])),
    [{peers, Peers} | Config].

end_per_testcase(_TestCase, Config) ->
    case ?config(tc_status, Config) of
        ok -> ok;
        _ -> [diagnose(P) || P <- ?config(peers, Config)]
    end,
    edf_test_peer:stop_all(?config(peers, Config)),
    ok.

diagnose(Peer) ->
    Diag = try call(Peer, ?MODULE, diagnostics, [])
           catch Class:Reason -> {Class, Reason}
           end,
    ct:pal("~p:~n~p", [node_of(Peer), Diag]).

router_state(Name) ->
    try sys:get_state(Name, 5000)
    catch exit:Reason -> {exit, Reason}
    end.

%%% Test cases

%% The talk: `erpc:multicall' of an allowed function works through
%% `spawn_request_init'.
erpc_allowed_call_works(Config) ->
    [A, B] = nodes_of(Config),
    NodeB = node_of(B),
    ?assertEqual([{ok, NodeB}], call(A, erpc, multicall, [[NodeB], erlang, node, []])),
    {ok, Events} = await(B, fun(Es) -> [x || {spawn_request_init, _, erpc, execute_call,
                                               [_, erlang, node, []]} <- Es] =/= [] end),
    ?assertMatch([{spawn_request_init, _, _, _, _}], [E || E = {spawn_request_init, _, _, _, _} <- Events]).

%% The talk: `erpc:call(B, erlang, halt, [1])' is rewritten to exit
%% `unauthorized'; B stays up.
erpc_halt_is_unauthorized(Config) ->
    [A, B] = nodes_of(Config),
    NodeA = node_of(A),
    NodeB = node_of(B),
    ?assertEqual({exit, {exception, unauthorized}},
                 call(A, ?MODULE, catch_apply, [erpc, call, [NodeB, erlang, halt, [1]]])),
    ?assertEqual([{exit, {exception, unauthorized}}],
                 call(A, erpc, multicall, [[NodeB], erlang, halt, [1]])),
    ?assertEqual(up, call(A, ?MODULE, still_up, [NodeB])),
    ?assertEqual(NodeB, call(B, erlang, node, [])),
    {ok, _} = await(B, fun(Es) -> [x || {spawn_request_init, N, erpc, execute_call,
                                         [_, erlang, halt, [1]]} <- Es, N =:= NodeA] =/= [] end).

%% A remote `supervisor:start_child' is hinted `drop' and not executed; the
%% test handler answers it.
start_child_is_dropped(Config) ->
    [A, B] = nodes_of(Config),
    NodeB = node_of(B),
    ?assertEqual({error, unauthorized}, call(A, ?MODULE, start_child_on, [NodeB, edf_child])),
    ?assertNot(lists:member(edf_child, call(B, ?MODULE, child_ids, []))),
    {ok, Events} = await(B, fun(Es) -> classified(Es, start_child) =/= [] end),
    ?assertMatch([{drop, #udist_dop_reg_send{to_name = kernel_sup}, drop}],
                 classified(Events, start_child)).

%% An `io_request' to `standard_error' is hinted `drop', never reaches
%% `standard_error', and the requester gets the handler's answer.
io_request_is_dropped(Config) ->
    [A, B] = nodes_of(Config),
    NodeB = node_of(B),
    Tracer = call(B, ?MODULE, trace_receive, [standard_error]),
    ?assertMatch({io_reply, _, {error, enotsup}}, call(A, ?MODULE, io_request_to, [NodeB])),
    {ok, Events} = await(B, fun(Es) -> classified(Es, io_request) =/= [] end),
    ?assertMatch([{drop, #udist_dop_reg_send{to_name = standard_error}, drop}],
                 classified(Events, io_request)),
    ?assertEqual([], [M || {io_request, _, _, _} = M <- call(B, ?MODULE, traced_messages, [Tracer])]).

%% Keep-all with `untrusted' on B: every send goes through B's handler
%% worker for A, which executes them in arrival order.
kept_operations_run_in_order(Config) ->
    [A, B] = nodes_of(Config),
    NodeA = node_of(A),
    NodeB = node_of(B),
    N = 200,
    ok = call(B, erldist_filter_nif, config_set, [untrusted, true]),
    _ = call(B, ?MODULE, start_sink, [N]),
    ok = call(A, ?MODULE, send_seq, [NodeB, edf_sink, N]),
    ?assertEqual([{edf_seq, I} || I <- lists:seq(1, N)], call(B, ?MODULE, sink_fetch, [?TIMEOUT])),
    {ok, Events} = await(B, fun(Es) -> length(seq_classified(Es)) >= N end),
    ?assertEqual([{unsafe, NodeA, I, keep} || I <- lists:seq(1, N)], seq_classified(Events)).

%% Keep-all: what the hints call `drop' is executed when kept (the
%% `start_child' runs, `standard_error' receives the request and
%% answers).
kept_drop_hints_are_executed(Config) ->
    [A, B] = nodes_of(Config),
    NodeB = node_of(B),
    ?assertMatch({ok, Pid} when is_pid(Pid), call(A, ?MODULE, start_child_on, [NodeB, edf_child])),
    ?assert(lists:member(edf_child, call(B, ?MODULE, child_ids, []))),
    Tracer = call(B, ?MODULE, trace_receive, [standard_error]),
    ?assertMatch({io_reply, _, ok}, call(A, ?MODULE, io_request_to, [NodeB])),
    ?assertMatch([_], [M || {io_request, _, _, _} = M <- call(B, ?MODULE, traced_messages, [Tracer])]),
    {ok, Events} = await(B, fun(Es) -> classified(Es, io_request) =/= [] end),
    ?assertMatch([{drop, _, keep}], classified(Events, start_child)),
    ?assertMatch([{drop, _, keep}], classified(Events, io_request)).

%% Local code sending the router a message for a node that does not hash
%% to it (or junk) is logged and ignored: no worker starts, nothing runs,
%% the router lives on. A genuine one (right node) is executed.
forged_router_messages_are_rejected(Config) ->
    [A, B] = nodes_of(Config),
    ?assertMatch({rejected, [genuine]}, call(B, ?MODULE, forge, [node_of(A)])).

%% A remote node addressing a router directly: the NIF redirects it, the
%% hint is `drop' (router name) and even a keep-all handler does not send
%% it to the router.
remote_cannot_address_routers(Config) ->
    [A, B] = nodes_of(Config),
    NodeA = node_of(A),
    NodeB = node_of(B),
    ok = call(B, erldist_filter_nif, config_set, [untrusted, true]),
    _ = call(B, ?MODULE, start_sink, [3]),
    Router = call(B, erldist_filter_nif, router_name, [NodeA]),
    ok = call(A, ?MODULE, send_to_router, [NodeB, Router, edf_sink]),
    {edf_seq, 3} = call(A, erlang, send, [{edf_sink, NodeB}, {edf_seq, 3}]),
    ?assertEqual([{edf_seq, 1}, {edf_seq, 2}, {edf_seq, 3}], call(B, ?MODULE, sink_fetch, [?TIMEOUT])),
    {ok, Events} = await(B, fun(Es) -> length(seq_classified(Es)) >= 3 end),
    ?assertEqual([{unsafe, NodeA, I, keep} || I <- [1, 2, 3]], seq_classified(Events)),
    ?assertMatch([{drop, #udist_dop_reg_send{to_name = Router}, keep}],
                 [{H, C, D} || {classify, H, _, C = #udist_dop_reg_send{to_name = R}, _, D} <- Events,
                               R =:= Router]).

%% Decision 8 / no handler: a remote link never reaches B, so no EXIT
%% comes back when the linked process dies. Control: with inspection off
%% the same steps establish the link and deliver the EXIT.
no_handler_link_is_dropped(Config) ->
    [A, B] = nodes_of(Config),
    NodeB = node_of(B),
    ?assertMatch({[], {edf_test, boom}, no_exit}, call(A, ?MODULE, link_and_kill, [NodeB])),
    #{dop_link := #{seen := Seen, drop := Dropped}} = rx_stats(B),
    ?assert(Seen >= 1 andalso Dropped >= 1),
    %% A drops EXITs too (decision 8): inspection off on both for the control.
    ok = call(A, erldist_filter_nif, config_set, [deep_packet_inspection, false]),
    ok = call(B, erldist_filter_nif, config_set, [deep_packet_inspection, false]),
    ?assertMatch({[_], {edf_test, boom}, {exit, {edf_test, boom}}},
                 call(A, ?MODULE, link_and_kill, [NodeB])).

%% Decision 1: with no handler, spawn requests (redirected through
%% `edf:req/3') run the original function.
no_handler_erpc_returns(Config) ->
    [A, B] = nodes_of(Config),
    NodeB = node_of(B),
    ?assertEqual(undefined, call(B, erldist_filter, handler_get, [])),
    ?assertEqual(NodeB, call(A, erpc, call, [NodeB, erlang, node, []])),
    ?assertEqual(6, call(A, erpc, call, [NodeB, erlang, '*', [2, 3]])),
    #{dop_spawn_request := #{seen := Seen}} = rx_stats(B),
    ?assert(Seen >= 2).

%%% Helpers (test node)

%% rebar3 ct runs the modules from the test directory, which has no .app:
%% the peers get the directory of ours.
app_dir() ->
    filename:dirname(code:where_is_file("erldist_filter.app")).

nodes_of(Config) -> ?config(peers, Config).
node_of(#{node := Node}) -> Node.
call(#{pid := Pid}, M, F, A) -> peer:call(Pid, M, F, A, ?TIMEOUT).

await(Peer, Pred) ->
    case call(Peer, edf_test_handler, await, [Pred, ?TIMEOUT div 2]) of
        {ok, _} = Ok -> Ok;
        {timeout, Events} -> ct:fail({handler_reports_missing, Events})
    end.

rx_stats(Peer) ->
    #{channel := #{rx_stats := Stats}} = call(Peer, erldist_filter_nif, world_stats_get, []),
    Stats.

%% {Hint, Control, Decision} of the classified payloads of a kind.
classified(Events, start_child) ->
    [{H, C, D} || {classify, H, _, C, {'$gen_call', _, {start_child, _}}, D} <- Events];
classified(Events, io_request) ->
    [{H, C, D} || {classify, H, _, C, {io_request, _, _, _}, D} <- Events].

seq_classified(Events) ->
    [{H, S, I, D} || {classify, H, S, #udist_dop_reg_send{to_name = edf_sink}, {edf_seq, I}, D} <- Events].

%%% Helpers (peers)

%% @private What the handler and the routers of this node did.
diagnostics() ->
    #{names := Names} = erldist_filter_nif:router_info(),
    #{channel := #{rx_stats := Stats}} = erldist_filter_nif:world_stats_get(),
    #{config => erldist_filter_nif:config_get(),
      nodes => nodes(),
      handler_events => edf_test_handler:events(),
      routers => [{N, router_state(N)} || N <- Names],
      stats => maps:filter(fun(K, _) -> lists:prefix("dop_", atom_to_list(K)) end, Stats)}.

%% @private
setup_node(AppDir, Handler, Mode) ->
    true = code:add_pathz(AppDir),
    {ok, _} = application:ensure_all_started(erldist_filter),
    ok = erldist_filter_nif:config_set(#{deep_packet_inspection => true,
                                         redirect_dist_operations => true}),
    ok = edf_test_handler:set_mode(Mode),
    _ = edf_test_handler:start_collector(),
    _ = erldist_filter:handler_set(Handler),
    ok.

%% @private
catch_apply(M, F, A) ->
    try erlang:apply(M, F, A) of
        Result -> {ok, Result}
    catch
        Class:Reason -> {Class, Reason}
    end.

%% @private `up' if `Node' answers a ping and did not go down meanwhile.
still_up(Node) ->
    true = erlang:monitor_node(Node, true),
    Pong = net_adm:ping(Node),
    true = erlang:monitor_node(Node, false),
    receive
        {nodedown, Node} -> down
    after 0 ->
        case Pong of
            pong -> up;
            pang -> down
        end
    end.

%% @private What `supervisor:start_child({kernel_sup, Node}, Spec)' sends,
%% with a timeout.
start_child_on(Node, Id) ->
    Spec = #{id => Id, start => {?MODULE, start_linkee, []}, restart => temporary, type => worker},
    try gen_server:call({kernel_sup, Node}, {start_child, Spec}, 10000)
    catch exit:{timeout, _} -> timeout
    end.

%% @private
child_ids() ->
    [Id || {Id, _, _, _} <- supervisor:which_children(kernel_sup)].

%% @private A raw io request to `standard_error' on `Node'; the reply.
io_request_to(Node) ->
    ReplyAs = make_ref(),
    {standard_error, Node} ! {io_request, self(), ReplyAs, {put_chars, unicode, <<>>}},
    receive
        {io_reply, ReplyAs, _} = Reply -> Reply
    after 10000 -> timeout
    end.

%% @private Trace what `Name' receives; returns the tracer.
trace_receive(Name) ->
    Pid = whereis(Name),
    Parent = self(),
    Tracer = spawn(fun() -> Parent ! {self(), ready}, trace_loop([]) end),
    receive {Tracer, ready} -> ok end,
    1 = erlang:trace(Pid, true, ['receive', {tracer, Tracer}]),
    Tracer.

trace_loop(Acc) ->
    receive
        {trace, _, 'receive', Msg} -> trace_loop([Msg | Acc]);
        {fetch, From, Ref} -> From ! {Ref, lists:reverse(Acc)}, trace_loop(Acc)
    end.

%% @private What the traced process received so far (all trace messages
%% up to now are delivered first).
traced_messages(Tracer) ->
    Pid = whereis(standard_error),
    Ref = erlang:trace_delivered(Pid),
    receive {trace_delivered, Pid, Ref} -> ok end,
    FRef = make_ref(),
    Tracer ! {fetch, self(), FRef},
    receive {FRef, Msgs} -> Msgs end.

%% @private A registered sink that collects `N' `{edf_seq, I}' messages.
start_sink(N) ->
    Pid = spawn(?MODULE, sink_loop, [N, []]),
    true = register(edf_sink, Pid),
    Pid.

%% @private
sink_loop(0, Acc) ->
    receive {fetch, From} -> From ! {sunk, lists:reverse(Acc)} end;
sink_loop(N, Acc) ->
    receive {edf_seq, _} = Msg -> sink_loop(N - 1, [Msg | Acc]) end.

%% @private
sink_fetch(Timeout) ->
    edf_sink ! {fetch, self()},
    receive {sunk, Msgs} -> Msgs
    after Timeout -> {timeout, erlang:process_info(whereis(edf_sink), messages)}
    end.

%% @private
send_seq(Node, Name, N) ->
    lists:foreach(fun(I) -> {Name, Node} ! {edf_seq, I} end, lists:seq(1, N)).

%% @private Send `Router' on `Node' a router-shaped message as if from
%% `Node' itself, between two ordinary sends.
send_to_router(Node, Router, Sink) ->
    {Sink, Node} ! {edf_seq, 1},
    {Router, Node} ! {Node, 1, {?DOP_REG_SEND, self(), '', Sink}, {edf_seq, forged}},
    {Sink, Node} ! {edf_seq, 2},
    ok.

%% @private On the victim: forge router messages locally.
forge(NodeA) ->
    Router = erldist_filter_nif:router_name(NodeA),
    RouterPid = whereis(Router),
    Fake = hd([F || I <- lists:seq(1, 1000),
                    F <- [list_to_atom("edf_fake_" ++ integer_to_list(I) ++ "@localhost")],
                    erldist_filter_nif:router_name(F) =/= Router]),
    Sup = handler_sup_of(Router),
    Before = supervisor:count_children(Sup),
    true = register(edf_forged_sink, self()),
    Ctl = {?DOP_REG_SEND, self(), '', edf_forged_sink},
    Router ! {Fake, 1, Ctl, forged},
    Router ! {Fake, 2, {?DOP_EXIT2, self(), self(), forged}},
    Router ! {<<"not an atom">>, 1, Ctl, forged},
    Router ! junk,
    _ = sys:get_state(Router),
    After = supervisor:count_children(Sup),
    Router ! {NodeA, 1000000, Ctl, genuine},
    Got = receive genuine -> genuine after ?TIMEOUT -> timeout end,
    Stray = receive forged -> forged after 0 -> none end,
    case {whereis(Router), Before =:= After, Got, Stray} of
        {RouterPid, true, genuine, none} -> {rejected, [genuine]};
        Other -> {not_rejected, Other}
    end.

handler_sup_of(Router) ->
    "erldist_filter_router_" ++ N = atom_to_list(Router),
    erldist_filter_handler_sup:child_name(list_to_integer(N)).

%% @private On A: link to a new process on `Node', ask it for its links,
%% kill it; `{ItsLinks, DownReason, no_exit | {exit, Reason}}'. EXIT
%% signals from a process come before its DOWN, so none before the DOWN
%% means none at all.
link_and_kill(Node) ->
    process_flag(trap_exit, true),
    Q = spawn(Node, ?MODULE, linkee, []),
    MRef = erlang:monitor(process, Q),
    true = link(Q),
    Q ! {links, self()},
    Links = receive {links, Q, L} -> L after ?TIMEOUT -> timeout end,
    Q ! die,
    Reason = receive {'DOWN', MRef, process, Q, R} -> R after ?TIMEOUT -> timeout end,
    Exit = receive {'EXIT', Q, E} -> {exit, E} after 0 -> no_exit end,
    {Links, Reason, Exit}.

%% @private
start_linkee() ->
    {ok, spawn_link(?MODULE, linkee, [])}.

%% @private
linkee() ->
    receive
        {links, From} ->
            {links, L} = process_info(self(), links),
            From ! {links, self(), L},
            linkee();
        die ->
            exit({edf_test, boom})
    end.

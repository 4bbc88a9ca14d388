%%% The filter carrier between real peer nodes: traffic must arrive exactly
%%% as it does over the stock carrier (the `stock_inet' group is the
%%% control), the handshake must hand the NIF the negotiated flags and the
%%% peer's creation, and the NIF must see what was sent.
%%%
%%% Each test case gets a fresh pair of peers (A, B) started with the
%%% group's carrier; helpers below run on the peers (`peer:call') since
%%% this node is not distributed.
-module(erldist_filter_dist_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
-include_lib("kernel/include/dist_util.hrl").

%% ct callbacks
-export([all/0, groups/0, suite/0]).
-export([init_per_group/2, end_per_group/2]).
-export([init_per_testcase/2, end_per_testcase/2]).

%% Test cases
-export([ping_both_ways/1]).
-export([random_terms_both_ways/1]).
-export([erpc_call/1]).
-export([link_exit_propagates/1]).
-export([monitor_down_arrives/1]).
-export([spawn_request_reply_arrives/1]).
-export([global_name_visible/1]).
-export([idle_connection_survives_ticks/1]).
-export([world_stats_count_traffic/1]).
-export([channel_gets_negotiated_flags_and_creation/1]).
-export([malformed_input_closes_connection/1]).

%% Run on the peers
-export([send_terms/4]).
-export([start_collector/1]).
-export([fetch_collected/1]).
-export([linked_exit/1]).
-export([monitored_down/1]).
-export([spawn_request_down/1]).
-export([wait_for_die/0]).
-export([register_global/1]).
-export([whereis_global/1]).
-export([stay_connected/2]).
-export([rx_stats/0]).
-export([start_handshake_tracer/0]).
-export([fetch_handshake_trace/1]).
-export([capture_warnings/0]).
-export([fetch_warnings/0]).
-export([inject_junk/1]).
-export([log/2]).

-define(TERMS, 10000).
-define(CALL_TIMEOUT, 60000).

suite() ->
    [{timetrap, {minutes, 5}}].

all() ->
    [{group, filter_inet}, {group, filter_inet6}, {group, stock_inet}].

groups() ->
    Common = [ping_both_ways, random_terms_both_ways, erpc_call, link_exit_propagates,
              monitor_down_arrives, spawn_request_reply_arrives, global_name_visible,
              idle_connection_survives_ticks],
    Filter = [world_stats_count_traffic, channel_gets_negotiated_flags_and_creation,
              malformed_input_closes_connection],
    [{filter_inet, [], Common ++ Filter},
     {filter_inet6, [], Common ++ Filter},
     {stock_inet, [], Common}].

init_per_group(Carrier, Config) ->
    [{carrier, Carrier} | Config].

end_per_group(_Carrier, _Config) ->
    ok.

init_per_testcase(TestCase, Config) ->
    Options0 = #{carrier => ?config(carrier, Config), prefix => "edf"},
    Options = case TestCase of
                  idle_connection_survives_ticks -> Options0#{net_ticktime => 4};
                  _ -> Options0
              end,
    {ok, Peers} = edf_test_peer:start_many(2, Options),
    [{peers, Peers} | Config].

end_per_testcase(_TestCase, Config) ->
    edf_test_peer:stop_all(?config(peers, Config)),
    ok.

%%% Test cases

ping_both_ways(Config) ->
    [A, B] = nodes_of(Config),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])),
    ?assertEqual(pong, call(B, net_adm, ping, [node_of(A)])),
    ?assertEqual([node_of(B)], call(A, erlang, nodes, [])),
    ?assertEqual([node_of(A)], call(B, erlang, nodes, [])).

%% Random terms (atom-cache-heavy, pids, refs, funs, maps, bignums, floats,
%% nested, >100 fragmented binaries) from A to B and from B to A arrive
%% equal and in order.
random_terms_both_ways(Config) ->
    [A, B] = nodes_of(Config),
    transfer(A, B, 1),
    transfer(B, A, 2).

transfer(From, To, Seed) ->
    Collector = call(To, ?MODULE, start_collector, [?TERMS]),
    Sent = call(From, ?MODULE, send_terms, [Seed, ?TERMS, Collector, node_of(To)]),
    Received = call(To, ?MODULE, fetch_collected, [?CALL_TIMEOUT]),
    ?assertEqual(?TERMS, length(Sent)),
    ?assert(length([big || {edf_seq, _, {big, _, _}} <- Sent]) >= 100),
    case Sent =:= Received of
        true -> ok;
        false -> ct:fail({first_difference, first_difference(Sent, Received)})
    end.

erpc_call(Config) ->
    [A, B] = nodes_of(Config),
    ?assertEqual(node_of(B), call(A, erpc, call, [node_of(B), erlang, node, []])),
    Big = binary:copy(<<"edf">>, 100000),
    ?assertEqual(byte_size(Big),
                 call(A, erpc, call, [node_of(B), erlang, byte_size, [Big]])),
    ?assertEqual(Big, call(B, erpc, call, [node_of(A), erlang, iolist_to_binary, [[Big]]])).

link_exit_propagates(Config) ->
    [A, B] = nodes_of(Config),
    ?assertEqual({'EXIT', {edf_test, boom}}, call(A, ?MODULE, linked_exit, [node_of(B)])).

monitor_down_arrives(Config) ->
    [A, B] = nodes_of(Config),
    ?assertEqual({'DOWN', {edf_test, boom}}, call(A, ?MODULE, monitored_down, [node_of(B)])).

spawn_request_reply_arrives(Config) ->
    [A, B] = nodes_of(Config),
    {spawn_reply, Pid, 'DOWN', {edf_test, boom}} =
        call(A, ?MODULE, spawn_request_down, [node_of(B)]),
    ?assertEqual(node_of(B), node(Pid)).

global_name_visible(Config) ->
    [A, B] = nodes_of(Config),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])),
    Pid = call(A, ?MODULE, register_global, [edf_global_test]),
    ?assertEqual(Pid, call(B, ?MODULE, whereis_global, [edf_global_test])).

%% net_ticktime 4: a connection idle for 10 s lives only if ticks pass
%% through the filter both ways. Waiting on a timer is the point here.
idle_connection_survives_ticks(Config) ->
    [A, B] = nodes_of(Config),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])),
    ?assertEqual(connected, call(A, ?MODULE, stay_connected, [node_of(B), 10000])),
    ?assertEqual([node_of(A)], call(B, erlang, nodes, [])),
    case ?config(carrier, Config) of
        stock_inet ->
            ok;
        _ ->
            ?assert(maps:get(dist_tick_count, call(A, ?MODULE, rx_stats, [])) > 0),
            ?assert(maps:get(dist_tick_count, call(B, ?MODULE, rx_stats, [])) > 0)
    end.

%% The receiving node's NIF counted what was sent: packets, REG_SEND and
%% SEND_SENDER messages.
world_stats_count_traffic(Config) ->
    [A, B] = nodes_of(Config),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])),
    Before = call(B, ?MODULE, rx_stats, []),
    N = 200,
    Collector = call(B, ?MODULE, start_collector, [N]),
    ?assertEqual(N, length(call(A, ?MODULE, send_terms, [3, N, Collector, node_of(B)]))),
    ?assertEqual(N, length(call(B, ?MODULE, fetch_collected, [?CALL_TIMEOUT]))),
    After = call(B, ?MODULE, rx_stats, []),
    Grew = fun(Path) -> get_in(Path, After) - get_in(Path, Before) end,
    ?assert(Grew([packet_count]) >= N),
    ?assert(Grew([dop_reg_send, seen]) >= N div 2),
    ?assert(Grew([dop_reg_send, emit]) >= N div 2),
    ?assert(Grew([dop_send_sender, seen]) >= N div 2),
    ?assert(Grew([dop_send_sender, emit]) >= N div 2),
    ?assert(Grew([dist_frag_header_count]) > 0).

%% What `dist_util' negotiated (seen by tracing its `connection/1') is what
%% the carrier opened the channel with, on both sides; the creation is the
%% peer's own.
channel_gets_negotiated_flags_and_creation(Config) ->
    [A, B] = nodes_of(Config),
    ok = call(A, ?MODULE, start_handshake_tracer, []),
    ok = call(B, ?MODULE, start_handshake_tracer, []),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])),
    check_handshake(A, B),
    check_handshake(B, A).

check_handshake(Self, Other) ->
    OtherNode = node_of(Other),
    {ok, {Flags, Creation}, {packet_size, 4, OtherNode, OpenCreation, _ConnId, OpenFlags}} =
        call(Self, ?MODULE, fetch_handshake_trace, [OtherNode]),
    ?assertEqual(Flags, OpenFlags),
    ?assertEqual(Creation, OpenCreation),
    ?assertEqual(call(Other, erts_internal, get_creation, []), Creation).

%% Bytes that are no distribution frame (no 131 magic) make B's filter
%% raise: B logs a warning in the erldist_filter domain and drops that one
%% connection; A sees nodedown and can connect again.
malformed_input_closes_connection(Config) ->
    [A, B] = nodes_of(Config),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])),
    ok = call(B, ?MODULE, capture_warnings, []),
    ?assertEqual(nodedown, call(A, ?MODULE, inject_junk, [node_of(B)])),
    [#{node := NodeA, operation := channel_recv}] = call(B, ?MODULE, fetch_warnings, []),
    ?assertEqual(node_of(A), NodeA),
    ?assertEqual(pong, call(A, net_adm, ping, [node_of(B)])).

%%% Helpers run on the peers

%% @private Keep this node's erldist_filter warnings in a process.
capture_warnings() ->
    Keeper = spawn(fun() -> keep_warnings([]) end),
    true = register(edf_warnings, Keeper),
    logger:add_handler(edf_capture, ?MODULE,
                       #{level => warning,
                         filters => [{domain, {fun logger_filters:domain/2,
                                               {stop, not_equal, [erldist_filter]}}}],
                         config => #{keeper => Keeper}}).

%% @private logger handler callback.
log(#{msg := {report, Report}}, #{config := #{keeper := Keeper}}) ->
    Keeper ! {warning, Report},
    ok;
log(_Event, _Config) ->
    ok.

%% A fetch waits for the first warning: it is logged before the
%% connection goes down, but by another process.
keep_warnings(Acc) ->
    receive
        {warning, Report} ->
            keep_warnings([Report | Acc]);
        {fetch, From} when Acc =/= [] ->
            From ! {warnings, lists:reverse(Acc)},
            keep_warnings(Acc)
    end.

%% @private
fetch_warnings() ->
    edf_warnings ! {fetch, self()},
    receive {warnings, Reports} -> Reports
    after 10000 -> timeout
    end.

%% @private Write a bogus frame on our dist socket to `Node' (found by
%% the port in its name) and wait for the connection to go down.
inject_junk(Node) ->
    [Name, _Host] = string:split(atom_to_list(Node), "@"),
    PeerPort = edf_test_epmd:port_of(Name),
    [Socket] = [P || P <- erlang:ports(),
                     erlang:port_info(P, name) =:= {name, "tcp_inet"},
                     element(2, inet:peername(P)) =:= {{127, 0, 0, 1}, PeerPort}
                         orelse element(2, inet:peername(P)) =:= {{0, 0, 0, 0, 0, 0, 0, 1}, PeerPort}],
    true = erlang:monitor_node(Node, true),
    ok = gen_tcp:send(Socket, <<5:32, "junk!">>),
    receive {nodedown, Node} -> nodedown
    after ?CALL_TIMEOUT -> still_up
    end.


%% @private Build the terms, send them (even: to the pid, odd: to the
%% registered name) and return them in the comparable form.
send_terms(Seed, N, Collector, ToNode) ->
    _ = rand:seed(exsss, Seed),
    Ctx = #{atoms => list_to_tuple([list_to_atom("edf_atom_" ++ integer_to_list(I))
                                    || I <- lists:seq(1, 3000)]),
            pids => list_to_tuple([self(), Collector | [spawn(fun wait_for_die/0)
                                                        || _ <- lists:seq(1, 3)]])},
    Terms = [{edf_seq, I, message(I, Ctx)} || I <- lists:seq(1, N)],
    lists:foreach(fun(T = {edf_seq, I, _}) when I rem 2 =:= 0 -> Collector ! T;
                     (T) -> {edf_collector, ToNode} ! T
                  end, Terms),
    comparable(Terms).

%% @private Collect `N' sequence messages on a registered process.
start_collector(N) ->
    Pid = spawn(fun() -> collect(N, []) end),
    true = register(edf_collector, Pid),
    Pid.

collect(0, Acc) ->
    receive {fetch, From} -> From ! {collected, lists:reverse(Acc)} end;
collect(N, Acc) ->
    receive {edf_seq, _, _} = Msg -> collect(N - 1, [Msg | Acc]) end.

%% @private What the collector got, in the comparable form.
fetch_collected(Timeout) ->
    Pid = whereis(edf_collector),
    Pid ! {fetch, self()},
    receive
        {collected, Msgs} -> comparable(Msgs)
    after Timeout ->
        {timeout, erlang:process_info(Pid, message_queue_len)}
    end.

%% @private
linked_exit(Node) ->
    process_flag(trap_exit, true),
    Pid = spawn_link(Node, ?MODULE, wait_for_die, []),
    Pid ! die,
    receive
        {'EXIT', Pid, Reason} -> {'EXIT', Reason}
    after ?CALL_TIMEOUT -> timeout
    end.

%% @private
monitored_down(Node) ->
    Pid = spawn(Node, ?MODULE, wait_for_die, []),
    Ref = erlang:monitor(process, Pid),
    Pid ! die,
    receive
        {'DOWN', Ref, process, Pid, Reason} -> {'DOWN', Reason}
    after ?CALL_TIMEOUT -> timeout
    end.

%% @private
spawn_request_down(Node) ->
    ReqId = erlang:spawn_request(Node, ?MODULE, wait_for_die, [], [monitor]),
    receive
        {spawn_reply, ReqId, ok, Pid} ->
            Pid ! die,
            receive
                {'DOWN', ReqId, process, Pid, Reason} -> {spawn_reply, Pid, 'DOWN', Reason}
            after ?CALL_TIMEOUT -> {spawn_reply, Pid, timeout}
            end;
        {spawn_reply, ReqId, error, Reason} ->
            {spawn_error, Reason}
    after ?CALL_TIMEOUT -> timeout
    end.

%% @private A process that exits with a known reason when told.
wait_for_die() ->
    receive die -> exit({edf_test, boom}) end.

%% @private
register_global(Name) ->
    Pid = spawn(fun wait_for_die/0),
    yes = global:register_name(Name, Pid),
    Pid.

%% @private
whereis_global(Name) ->
    global:sync(),
    global:whereis_name(Name).

%% @private `connected' if no nodedown for `Node' comes within `Millis'.
stay_connected(Node, Millis) ->
    true = erlang:monitor_node(Node, true),
    receive
        {nodedown, Node} -> nodedown
    after Millis ->
        true = erlang:monitor_node(Node, false),
        case lists:member(Node, nodes()) of
            true -> connected;
            false -> not_in_nodes
        end
    end.

%% @private
rx_stats() ->
    #{channel := #{rx_stats := Stats}} = erldist_filter_nif:world_stats_get(),
    Stats.

%% @private Trace `dist_util:connection/1' (its `#hs_data{}' holds the
%% negotiated flags) and `erldist_filter_nif:channel_open/5' in every
%% process created from now on.
start_handshake_tracer() ->
    Parent = self(),
    Tracer = spawn(fun() -> trace_init(Parent) end),
    receive {Tracer, ready} -> ok end,
    true = register(edf_hs_tracer, Tracer),
    {module, _} = code:ensure_loaded(dist_util),
    {module, _} = code:ensure_loaded(erldist_filter_nif),
    _ = erlang:trace(new_processes, true, [call, {tracer, Tracer}]),
    1 = erlang:trace_pattern({dist_util, connection, 1}, true, [local]),
    1 = erlang:trace_pattern({erldist_filter_nif, channel_open, 5}, true, [local]),
    ok.

trace_init(Parent) ->
    Parent ! {self(), ready},
    trace_loop([], []).

%% Trace messages come from other processes than the fetch: a fetch waits
%% in `Pending' until both entries for its node are in.
trace_loop(Acc0, Pending0) ->
    {Acc, Pending1} =
        receive
            {trace, _, call, {dist_util, connection, [HS = #hs_data{}]}} ->
                {[{connection, HS#hs_data.other_node, HS#hs_data.other_flags,
                   HS#hs_data.other_creation} | Acc0], Pending0};
            {trace, _, call, {erldist_filter_nif, channel_open, Args}} ->
                {[{channel_open, list_to_tuple([packet_size | Args])} | Acc0], Pending0};
            {fetch, From, Node} ->
                {Acc0, [{From, Node} | Pending0]}
        end,
    Pending = [P || P = {From, Node} <- Pending1, not answered(From, Node, Acc)],
    trace_loop(Acc, Pending).

answered(From, Node, Acc) ->
    Conn = [{F, C} || {connection, N, F, C} <- Acc, N =:= Node],
    Open = [O || {channel_open, O = {_, _, N, _, _, _}} <- Acc, N =:= Node],
    case {Conn, Open} of
        {[C1], [O1]} -> From ! {handshake_trace, {ok, C1, O1}}, true;
        _ -> false
    end.

%% @private
fetch_handshake_trace(Node) ->
    edf_hs_tracer ! {fetch, self(), Node},
    receive {handshake_trace, Result} -> Result
    after 10000 -> timeout
    end.

%%% Terms

message(I, Ctx) when I rem 97 =:= 0 ->
    %% Over the 64 KiB fragment size: these go out fragmented.
    Size = 65536 + rand:uniform(32768),
    Chunk = rand:bytes(4096),
    {big, term(1, Ctx), binary:part(<<I:32, (binary:copy(Chunk, Size div 4096 + 1))/binary>>,
                                    0, Size)};
message(_I, Ctx) ->
    term(3, Ctx).

term(0, Ctx) ->
    leaf(Ctx);
term(Depth, Ctx) ->
    case rand:uniform(10) of
        1 -> [term(Depth - 1, Ctx) || _ <- lists:seq(1, rand:uniform(5))];
        2 -> list_to_tuple([term(Depth - 1, Ctx) || _ <- lists:seq(1, rand:uniform(5))]);
        3 -> maps:from_list([{atom(Ctx), term(Depth - 1, Ctx)} || _ <- lists:seq(1, rand:uniform(6))]);
        4 -> maps:from_list([{K, leaf(Ctx)} || K <- lists:seq(1, 33 + rand:uniform(10))]);
        5 -> [leaf(Ctx) | leaf(Ctx)];
        6 -> Captured = term(Depth - 1, Ctx), fun() -> Captured end;
        _ -> leaf(Ctx)
    end.

leaf(Ctx = #{pids := Pids}) ->
    case rand:uniform(16) of
        N when N =< 3 -> atom(Ctx);
        4 -> rand:uniform(1000) - 500;
        5 -> (rand:uniform(1 bsl 200) + (1 bsl 64)) * (1 - 2 * rand:uniform(2) + 2);
        6 -> (rand:uniform() - 0.5) * 1.0e12;
        7 -> rand:bytes(rand:uniform(64) - 1);
        8 -> <<(rand:uniform(255)):5>>;
        9 -> element(rand:uniform(tuple_size(Pids)), Pids);
        10 -> make_ref();
        11 -> fun lists:reverse/1;
        12 -> "edf string";
        13 -> list_to_atom([16#e4, 16#1F600 | integer_to_list(rand:uniform(50))]);
        14 -> hd(erlang:ports());
        15 -> -(1 bsl 40) - rand:uniform(1000);
        16 -> []
    end.

atom(#{atoms := Atoms}) ->
    element(rand:uniform(tuple_size(Atoms)), Atoms).

%% Big binaries are compared by size and digest so the lists can travel
%% back over the peers' standard I/O; everything else compares exactly.
comparable(Bin) when is_binary(Bin), byte_size(Bin) > 1024 ->
    {'$big', byte_size(Bin), erlang:md5(Bin)};
comparable([H | T]) ->
    [comparable(H) | comparable(T)];
comparable(Tuple) when is_tuple(Tuple) ->
    list_to_tuple(comparable(tuple_to_list(Tuple)));
comparable(Other) ->
    Other.

%%% Plumbing

call(#{pid := Pid}, M, F, A) ->
    peer:call(Pid, M, F, A, ?CALL_TIMEOUT).

nodes_of(Config) ->
    ?config(peers, Config).

node_of(#{node := Node}) ->
    Node.

get_in([Key], Map) -> maps:get(Key, Map);
get_in([Key | Path], Map) -> get_in(Path, maps:get(Key, Map)).

first_difference(Sent, Received) when length(Sent) =/= length(Received) ->
    {lengths, length(Sent), length(Received)};
first_difference([S | Sent], [R | Received]) when S =:= R ->
    first_difference(Sent, Received);
first_difference([S | _], [R | _]) ->
    {sent, S, received, R};
first_difference([], []) ->
    equal.

%%% Soak: three filtered peers exchange mixed traffic for a while (60 s by
%%% default, `SOAK_SECONDS' to change; `scripts/soak' runs 5 minutes):
%%% sends to pids and registered names, gen_server calls, erpc, monitors,
%%% remote spawns and large (fragmented) binaries, while connections are
%%% dropped in a loop (`erlang:disconnect_node/1', the traffic reconnects),
%%% filter loggers are opened and closed, and the switches are toggled
%%% (deep packet inspection, compaction, logging).
%%%
%%% At the end, on every node: `channel_list()' holds exactly one channel
%%% per connected node, `logger_list()' only the loggers alive before the
%%% soak, memory is flat (after a warm-up, within ?MEMORY_TOLERANCE) and the
%%% process count is back (within ?PROCESS_TOLERANCE); no traffic process
%%% crashed, and a clear majority of operations succeeded (operations that
%%% meet a just-dropped connection may fail with `noconnection').
-module(erldist_filter_soak_SUITE).

-behaviour(gen_server).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0, init_per_suite/1, end_per_suite/1]).
-export([soak/1]).

%% Run on the peers
-export([node_setup/0]).
-export([start_soak/2]).
-export([soak_status/0]).
-export([node_state/0]).
-export([full_mesh/1]).
-export([sink_loop/0]).
-export([traffic/3]).
-export([logger_churn/1]).
-export([switch_churn/1]).

%% gen_server (the `soak_server' on every peer)
-export([init/1, handle_call/3, handle_cast/2]).

-define(TIMEOUT, 60000).
-define(MiB, (1024 * 1024)).
%% What `erlang:memory(total)' may grow by between the warm-up and the
%% end (after a full sweep on every process).
-define(MEMORY_TOLERANCE, (24 * ?MiB)).
%% How far the process count may be from its post-warm-up value
%% (per-node handler workers, erpc helpers and the like come and go).
-define(PROCESS_TOLERANCE, 25).
-define(DISCONNECT_EVERY_MS, 1500).

suite() ->
    [{timetrap, {seconds, soak_seconds() + 240}}].

all() ->
    [soak].

soak_seconds() ->
    case os:getenv("SOAK_SECONDS") of
        false -> 60;
        S -> list_to_integer(S)
    end.

init_per_suite(Config) ->
    {ok, Peers} = edf_test_peer:start_many(3, #{prefix => "soak"}),
    [{peers, Peers} | Config].

end_per_suite(Config) ->
    edf_test_peer:stop_all(?config(peers, Config)),
    ok.

soak(Config) ->
    Peers = ?config(peers, Config),
    Nodes = [N || #{node := N} <- Peers],
    [ok = call(P, ?MODULE, node_setup, []) || P <- Peers],
    %% warm-up: full mesh, every kind of operation once
    [ok = call(P, ?MODULE, full_mesh, [Nodes]) || P <- Peers],
    [ok = call(P, ?MODULE, traffic, [Nodes -- [N], 0, warmup]) || P = #{node := N} <- Peers],
    Before = [{N, wait_steady(P, Nodes)} || P = #{node := N} <- Peers],
    ct:log("after warm-up: ~p", [Before]),
    Seconds = soak_seconds(),
    Deadline = erlang:system_time(millisecond) + Seconds * 1000,
    [ok = call(P, ?MODULE, start_soak, [Nodes -- [N], Deadline]) || P = #{node := N} <- Peers],
    Disconnects = disconnect_loop(Peers, Deadline, 0),
    Status = [{N, wait_done(P)} || P = #{node := N} <- Peers],
    ct:log("soak of ~p s: ~p disconnects; per node: ~p", [Seconds, Disconnects, Status]),
    %% back to a full mesh, then compare
    [ok = call(P, ?MODULE, full_mesh, [Nodes]) || P <- Peers],
    After = [{N, wait_steady(P, Nodes)} || P = #{node := N} <- Peers],
    ct:log("at the end: ~p", [After]),
    lists:foreach(
      fun({N, #{ops := Ops, errors := Errors, crashed := Crashed}}) ->
              ?assertEqual({N, []}, {N, Crashed}),
              ?assert(Ops > 100),
              ?assert(Errors * 4 < Ops)
      end, Status),
    lists:foreach(
      fun({N, B}) ->
              A = proplists:get_value(N, After),
              #{memory := M0, processes := P0, loggers := L0, rss := R0} = B,
              #{memory := M1, processes := P1, loggers := L1, rss := R1,
                channels := Channels, connected := Connected} = A,
              ct:log("~p: memory ~p -> ~p, RSS ~p -> ~p, processes ~p -> ~p",
                     [N, M0, M1, R0, R1, P0, P1]),
              ?assertEqual(lists:sort(Connected), lists:sort(Channels)),
              ?assertEqual(L0, L1),
              ?assert(M1 - M0 < ?MEMORY_TOLERANCE),
              ?assert(abs(P1 - P0) =< ?PROCESS_TOLERANCE)
      end, Before),
    ok.

disconnect_loop(Peers, Deadline, N) ->
    case erlang:system_time(millisecond) + ?DISCONNECT_EVERY_MS < Deadline of
        false ->
            N;
        true ->
            timer:sleep(?DISCONNECT_EVERY_MS),
            P = lists:nth(rand:uniform(length(Peers)), Peers),
            [#{node := Other} | _] = shuffle(Peers -- [P]),
            _ = call(P, erlang, disconnect_node, [Other]),
            disconnect_loop(Peers, Deadline, N + 1)
    end.

%% The node's state once its channels match its connections (channels of a
%% just-dropped connection are destroyed when its receiver exits).
wait_steady(Peer, Nodes) ->
    wait_until(fun() ->
                       S = #{channels := C, connected := K} = call(Peer, ?MODULE, node_state, []),
                       case lists:sort(C) =:= lists:sort(K)
                           andalso length(K) =:= length(Nodes) - 1 of
                           true -> {true, S};
                           false -> ok = call(Peer, ?MODULE, full_mesh, [Nodes]), false
                       end
               end, 60000).

wait_done(Peer) ->
    wait_until(fun() ->
                       case call(Peer, ?MODULE, soak_status, []) of
                           #{running := 0} = S -> {true, S};
                           _ -> false
                       end
               end, 120000).

call(#{pid := Pid}, M, F, A) ->
    peer:call(Pid, M, F, A, ?TIMEOUT).

wait_until(Fun, Timeout) ->
    Deadline = erlang:monotonic_time(millisecond) + Timeout,
    wait_until_(Fun, Deadline).

wait_until_(Fun, Deadline) ->
    case Fun() of
        {true, Value} ->
            Value;
        false ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> ct:fail(wait_until_timeout);
                false -> timer:sleep(200), wait_until_(Fun, Deadline)
            end
    end.

shuffle(L) ->
    [X || {_, X} <- lists:sort([{rand:uniform(), X} || X <- L])].

%%% On the peers

%% @private The filter application (routers, handler workers), a sink, a
%% gen_server, a status table.
node_setup() ->
    {ok, _} = application:ensure_all_started(erldist_filter),
    true = register(soak_sink, spawn(?MODULE, sink_loop, [])),
    {ok, _} = gen_server:start({local, soak_server}, ?MODULE, [], []),
    Owner = spawn(fun() -> receive never -> ok end end),
    _ = ets:new(soak_status, [named_table, public, {heir, Owner, none}]),
    true = ets:insert(soak_status, [{ops, 0}, {errors, 0}, {running, 0}, {crashed, []}]),
    ok.

%% @private
full_mesh(Nodes) ->
    [pong = net_adm:ping(N) || N <- Nodes, N =/= node()],
    ok.

%% @private
node_state() ->
    [erlang:garbage_collect(P) || P <- processes()],
    Channels = [Node || Ch <- erldist_filter_nif:channel_list(),
                        #{entry := #{sysname := Node}} <- [erldist_filter_nif:channel_inspect(Ch)]],
    #{channels => Channels, connected => nodes(connected),
      loggers => lists:sort(erldist_filter_nif:logger_list()),
      memory => erlang:memory(total), processes => erlang:system_info(process_count),
      rss => rss()}.

rss() ->
    case file:read_file("/proc/self/status") of
        {ok, Status} ->
            case re:run(Status, "VmRSS:\\s+(\\d+) kB", [{capture, all_but_first, list}]) of
                {match, [Kb]} -> list_to_integer(Kb) * 1024;
                nomatch -> 0
            end;
        _ -> 0
    end.

%% @private Start the loops: two traffic workers, a logger churner and a
%% switch toggler, all stopping at `Deadline' (system time, ms).
start_soak(Others, Deadline) ->
    Loops = [{traffic, [Others, Deadline, 1]}, {traffic, [Others, Deadline, 2]},
             {logger_churn, [Deadline]}, {switch_churn, [Deadline]}],
    [begin
         ets:update_counter(soak_status, running, 1),
         spawn(fun() ->
                       try apply(?MODULE, F, A)
                       catch C:R:St -> ets:insert(soak_status, {crashed, [{F, C, R, St}]})
                       after ets:update_counter(soak_status, running, -1)
                       end
               end)
     end || {F, A} <- Loops],
    ok.

%% @private
soak_status() ->
    maps:from_list(ets:tab2list(soak_status)).

%% @private Mixed operations against the other nodes until `Deadline'
%% (`warmup': every operation once against each).
traffic(Others, _Deadline, warmup) ->
    [ok = op(Op, Node) || Node <- Others, Op <- ops()],
    ok;
traffic(Others, Deadline, Seed) ->
    rand:seed(exsss, {Seed, erlang:phash2(node()), 7}),
    traffic_loop(Others, Deadline).

traffic_loop(Others, Deadline) ->
    case erlang:system_time(millisecond) < Deadline of
        false ->
            ok;
        true ->
            Node = lists:nth(rand:uniform(length(Others)), Others),
            Ops = ops(),
            Op = lists:nth(rand:uniform(length(Ops)), Ops),
            Result = try op(Op, Node) catch C:R -> {C, R} end,
            ets:update_counter(soak_status, ops, 1),
            case Result of
                ok -> ok;
                _ -> ets:update_counter(soak_status, errors, 1)
            end,
            traffic_loop(Others, Deadline)
    end.

ops() ->
    [send_pid, reg_send, gen_call, erpc, erpc_big, monitor, spawn, big_binary].

op(send_pid, Node) ->
    Pid = erpc:call(Node, erlang, whereis, [soak_sink], 5000),
    Pid ! {soak, self(), [1, 2.0, "three", make_ref(), #{k => v}]},
    ok;
op(reg_send, Node) ->
    {soak_sink, Node} ! {soak, self(), {tuple, lists:seq(1, 100)}},
    ok;
op(gen_call, Node) ->
    Term = {call, rand:uniform(1000), self()},
    Term = gen_server:call({soak_server, Node}, {echo, Term}, 5000),
    ok;
op(erpc, Node) ->
    Node = erpc:call(Node, erlang, node, [], 5000),
    ok;
op(erpc_big, Node) ->
    Big = binary:copy(<<"soak">>, 50000),
    200000 = erpc:call(Node, erlang, byte_size, [Big], 10000),
    ok;
op(monitor, Node) ->
    Ref = erlang:monitor(process, {soak_sink, Node}),
    true = erlang:demonitor(Ref, [flush]),
    {Pid, MRef} = spawn_monitor(Node, timer, sleep, [1]),
    receive {'DOWN', MRef, process, Pid, _} -> ok after 5000 -> timeout end;
op(spawn, Node) ->
    Pid = spawn(Node, erlang, is_atom, [x]),
    true = is_pid(Pid),
    ok;
op(big_binary, Node) ->
    %% 256 KiB to 1 MiB: fragmented at 64 KiB
    Bin = rand:bytes(256 * 1024 + rand:uniform(768 * 1024)),
    Hash = erlang:phash2(Bin),
    Hash = gen_server:call({soak_server, Node}, {hash, Bin}, 10000),
    ok.

%% @private Open a logger, read from it, close it; repeat.
logger_churn(Deadline) ->
    case erlang:system_time(millisecond) < Deadline of
        false ->
            ok;
        true ->
            L = erldist_filter_nif:logger_open(),
            timer:sleep(rand:uniform(300)),
            _ = erldist_filter_nif:logger_recv(L),
            ok = erldist_filter_nif:logger_close(L),
            logger_churn(Deadline)
    end.

%% @private Toggle inspection, compaction and logging.
switch_churn(Deadline) ->
    case erlang:system_time(millisecond) < Deadline of
        false ->
            ok = erldist_filter_nif:config_set(#{deep_packet_inspection => false,
                                                 compact_fragments => false,
                                                 logging => false});
        true ->
            Key = lists:nth(rand:uniform(3), [deep_packet_inspection, compact_fragments, logging]),
            ok = erldist_filter_nif:config_set(Key, rand:uniform(2) =:= 1),
            timer:sleep(250 + rand:uniform(750)),
            switch_churn(Deadline)
    end.

%% @private
sink_loop() ->
    receive _ -> sink_loop() end.

%%% gen_server

%% @private
init([]) ->
    {ok, #{}}.

%% @private
handle_call({echo, Term}, _From, State) ->
    {reply, Term, State};
handle_call({hash, Bin}, _From, State) ->
    {reply, erlang:phash2(Bin), State}.

%% @private
handle_cast(_Msg, State) ->
    {noreply, State}.

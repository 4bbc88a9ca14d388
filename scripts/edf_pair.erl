%%% The mixed-version pair check (`scripts/otp-pairs'): two nodes, each
%%% possibly on a different Erlang/OTP, both on the filtering carrier with
%%% the one-line safe policy (`-erldist_filter safe_policy true', so deep
%%% packet inspection is on at both receivers). Node B runs `server/0';
%%% node A runs `client/1' with B's name and checks, over the one
%%% connection between them:
%%%   ping; random terms A->B->A and B->A->B arrive equal; 1 MiB binaries
%%%   both ways (fragmented); erpc of an allowlisted function; the safe
%%%   policy's attacks from A are refused by B (erpc, rpc, raw rex call,
%%%   spawn_monitor, io_request with an MFA to standard_error and user,
%%%   exit signal) and none of their payloads ran (the marker each would
%%%   set on B is unset); no nodedown meanwhile. `otp-pairs' runs every
%%%   pairing both ways, so each node is A once and B once.
%%% B answers A's questions through a registered user process (plain
%%% messages, which the safe policy delivers), never through a remote
%%% spawn, which the policy would refuse. One line per check; halts 0 when
%%% every check passed, 1 otherwise.
-module(edf_pair).

-export([server/0, client/1]).

-define(TERMS, 500).
-define(MIB, 1048576).
-define(WAIT, 60000).
-define(MARK, "EDF_PAIR_PAYLOAD_RAN").

server() ->
    {ok, _} = application:ensure_all_started(erldist_filter),
    register(edf_pair_echo, spawn(fun echo_loop/0)),
    register(edf_pair_server, self()),
    io:format("server ~s up (OTP ~s)~n", [node(), erlang:system_info(otp_release)]),
    serve().

serve() ->
    receive
        {info, From, Ref} ->
            From ! {Ref, info()},
            serve();
        {blast, From, Ref, Kind} ->
            From ! {Ref, blast(node(From), Kind)},
            serve();
        stop ->
            erlang:halt(0)
    after 240000 ->
            io:format("server: watchdog, no stop~n"),
            erlang:halt(2)
    end.

info() ->
    #{otp => erlang:system_info(otp_release),
      dpi => erldist_filter_nif:config_get(deep_packet_inspection),
      handler => erldist_filter:handler_get(),
      payload_ran => os:getenv(?MARK),
      echo => whereis(edf_pair_echo)}.

client([B]) -> client(B);
client(B0) ->
    B = list_to_atom(B0),
    {ok, _} = application:ensure_all_started(erldist_filter),
    register(edf_pair_echo, spawn(fun echo_loop/0)),
    Results = try checks(B) catch C:R:St -> [report(crash, {C, R, St})] end,
    Failed = [Name || {Name, fail} <- Results],
    io:format("RESULT ~s: ~b passed, ~b failed ~w~n",
              [case Failed of [] -> "PASS"; _ -> "FAIL" end,
               length(Results) - length(Failed), length(Failed), Failed]),
    %% Halting right after the send could drop it: wait (bounded) for B
    %% to go down, so it does not wait for its watchdog.
    true = erlang:monitor_node(B, true),
    {edf_pair_server, B} ! stop,
    receive {nodedown, B} -> ok after 10000 -> ok end,
    erlang:halt(case Failed of [] -> 0; _ -> 1 end).

checks(B) ->
    ok = net_kernel:monitor_nodes(true),
    case wait_ping(B, 100) of
        pong -> connected_checks(B);
        pang -> [report(ping, pang)]
    end.

connected_checks(B) ->
    %% B's distribution is up before its server process registers.
    Info0 = wait_server(B, 100),
    io:format("A ~s OTP ~s, B ~s OTP ~s~n",
              [node(), erlang:system_info(otp_release), B, maps:get(otp, Info0)]),
    Policy = {erldist_filter_nif:config_get(deep_packet_inspection), erldist_filter:handler_get(),
              maps:get(dpi, Info0), maps:get(handler, Info0)},
    Echo = maps:get(echo, Info0),
    [report(ping, ok),
     report(safe_policy_on_both, case Policy of
                                     {true, erldist_filter_policy, true, erldist_filter_policy} -> ok;
                                     _ -> Policy
                                 end),
     report(terms_a_to_b, blast(B, {terms, 1})),
     report(terms_b_to_a, ask(B, {blast, {terms, 2}})),
     report(mib_binaries_a_to_b, blast(B, {big, 3})),
     report(mib_binaries_b_to_a, ask(B, {blast, {big, 4}})),
     report(erpc_allowlisted, expect(B, catching(fun() -> erpc:call(B, erlang, node, []) end)))]
        ++ attacks(B, Echo)
        ++ [report(no_payload_ran, expect(false, maps:get(payload_ran, ask(B, info)))),
            report(echo_alive, blast(B, {terms, 3})),
            report(no_nodedown, expect([], nodedowns())),
            report(still_connected, expect(true, lists:member(B, nodes())))].

%% Each attack would set the marker variable on B if it ran; B must refuse.
attacks(B, Echo) ->
    Set = [?MARK, "1"],
    %% The talk's I/O attack: put_chars with an MFA runs it in the I/O
    %% server. No answer to wait for: A's own filter refuses any io_reply
    %% (remote I/O is refused both ways); the marker shows whether it ran.
    [{Name, B} ! {io_request, self(), make_ref(), {put_chars, unicode, os, putenv, Set}}
     || Name <- [standard_error, user]],
    Mon = erlang:monitor(process, Echo),
    exit(Echo, kill),
    EchoAfterExit = blast(B, {terms, 5}),
    EchoDown = receive {'DOWN', Mon, process, _, Why} -> {down, Why} after 0 -> up end,
    erlang:demonitor(Mon, [flush]),
    [report(erpc_refused, refused(catching(fun() -> erpc:call(B, os, putenv, Set) end))),
     report(rpc_refused, refused(rpc:call(B, os, putenv, Set))),
     report(rex_call_refused,
            refused(catching(fun() ->
                                     gen_server:call({rex, B}, {call, os, putenv, Set, group_leader()}, ?WAIT)
                             end))),
     report(spawn_refused, spawn_outcome(B, Set)),
     report(exit_signal_refused, case {EchoDown, EchoAfterExit} of
                                     {up, {ok, _}} -> ok;
                                     Other -> Other
                                 end)].

spawn_outcome(B, Set) ->
    {_, Mon} = spawn_monitor(B, os, putenv, Set),
    receive
        {'DOWN', Mon, process, _, unauthorized} -> ok;
        {'DOWN', Mon, process, _, Other} -> {spawn_exit, Other}
    after ?WAIT -> no_down
    end.

refused(true) -> payload_ran;
refused({ok, true}) -> payload_ran;
refused(_) -> ok.

wait_server(B, 0) -> ask(B, info);
wait_server(B, N) ->
    case ask(B, info, 200) of
        {no_answer, _} -> wait_server(B, N - 1);
        Info -> Info
    end.

ask(B, Question) ->
    ask(B, Question, ?WAIT).

ask(B, Question, Timeout) ->
    Ref = make_ref(),
    Msg = case Question of
              info -> {info, self(), Ref};
              {blast, Kind} -> {blast, self(), Ref, Kind}
          end,
    {edf_pair_server, B} ! Msg,
    receive {Ref, Answer} -> Answer after Timeout -> {no_answer, Question} end.

%% Terms to Node's echo and back: the echo's phash2 must equal ours (it
%% decoded what we sent) and the term it returns must equal the original.
blast(Node, {terms, Seed}) ->
    rand:seed(exsss, {Seed, 7, 11}),
    echo_all(Node, [gen(4) || _ <- lists:seq(1, ?TERMS)]);
blast(Node, {big, Seed}) ->
    rand:seed(exsss, {Seed, 7, 11}),
    Bigs = [rand:bytes(?MIB) || _ <- lists:seq(1, 3)],
    echo_all(Node, Bigs ++ [{big, Bigs, lists:seq(1, 1000)}]).

echo_all(Node, Terms) ->
    Sent = [begin Ref = make_ref(), {edf_pair_echo, Node} ! {self(), Ref, T}, {Ref, T} end || T <- Terms],
    Bad = [Ref || {Ref, T} <- Sent,
                  receive
                      {Ref, H, T2} -> not (H =:= erlang:phash2(T) andalso T2 =:= T)
                  after ?WAIT -> true
                  end],
    case Bad of
        [] -> {ok, length(Terms)};
        _ -> {mismatches, length(Bad)}
    end.

echo_loop() ->
    receive
        {From, Ref, Term} when is_pid(From) ->
            From ! {Ref, erlang:phash2(Term), Term},
            echo_loop()
    end.

%% Random terms of every kind a message carries between versions.
gen(0) -> leaf();
gen(D) ->
    case rand:uniform(6) of
        1 -> list_to_tuple([gen(D - 1) || _ <- lists:seq(1, rand:uniform(4))]);
        2 -> [gen(D - 1) || _ <- lists:seq(1, rand:uniform(4))];
        3 -> maps:from_list([{leaf(), gen(D - 1)} || _ <- lists:seq(1, rand:uniform(4))]);
        4 -> [gen(D - 1) | leaf()];
        _ -> leaf()
    end.

leaf() ->
    case rand:uniform(12) of
        1 -> rand:uniform(256) - 1;
        2 -> rand:uniform(1 bsl 40) - (1 bsl 39);
        3 -> rand:uniform(1 bsl 200);
        4 -> rand:uniform() * 1.0e10;
        5 -> list_to_atom("a" ++ integer_to_list(rand:uniform(50)));
        6 -> unicode:characters_to_binary([$é, $x, 16#1F600]);
        7 -> rand:bytes(rand:uniform(100));
        8 -> self();
        9 -> make_ref();
        10 -> binary_to_atom(<<"ü"/utf8, (integer_to_binary(rand:uniform(9)))/binary>>, utf8);
        11 -> <<(rand:uniform(255)):7>>;
        _ -> []
    end.

report(Name, Result) ->
    case Result of
        ok -> io:format("PASS ~s~n", [Name]), {Name, pass};
        {ok, Detail} -> io:format("PASS ~s (~p)~n", [Name, Detail]), {Name, pass};
        Other -> io:format("FAIL ~s: ~P~n", [Name, Other, 30]), {Name, fail}
    end.

expect(X, X) -> ok;
expect(X, Y) -> {expected, X, got, Y}.

catching(F) ->
    try F() catch C:R -> {C, R} end.

wait_ping(_B, 0) -> pang;
wait_ping(B, N) ->
    case net_adm:ping(B) of
        pong -> pong;
        pang -> timer:sleep(200), wait_ping(B, N - 1)
    end.

nodedowns() ->
    receive {nodedown, N} -> [N | nodedowns()]; {nodeup, _} -> nodedowns()
    after 0 -> []
    end.

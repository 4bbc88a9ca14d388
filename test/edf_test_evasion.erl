%%% Attacks on OTP's own processes, addressed by name or by pid, for
%%% `erldist_filter_evasion_SUITE'.
%%%
%%% Attacker side: an agent process sends one attack in one encoding
%%% (`attack/3'), and `effect/2' tells what came back: `{effect, Term}' (the
%%% attack ran, or leaked `Term') or `no_effect'. Every attack's effect is a
%%% message to the agent (a send it made the victim do, or a reply), so a
%%% test never polls: it waits for that message or for the victim's
%%% decision.
%%%
%%% Victim side: `decisions_start/0' forwards the policy's decisions (log
%%% reports of domain `[erldist_filter]') to a collector; `await_drop/3'
%%% blocks until a refusal of a message from a node to a target is logged.
-module(edf_test_evasion).

-export([agent_start/0]).
-export([attack/3]).
-export([effect/2]).
-export([targets/0]).
-export([decisions_start/0]).
-export([await_drop/3]).
-export([await_decision/4]).
-export([await_count/4]).
-export([forget/0]).
-export([send_named/3]).
-export([log/2]).
-export([payload_module/0]).

-define(COLLECTOR, edf_test_evasion_decisions).
-define(AGENT, edf_test_evasion_agent).

%%% Attacker side

%% @doc Start the attacking process (registered `edf_test_evasion_agent'):
%% it sends the attacks and keeps what comes back.
-spec agent_start() -> pid().
agent_start() ->
    Pid = spawn(fun() -> agent([]) end),
    true = register(?AGENT, Pid),
    Pid.

%% @doc Have the agent send `Attack' to `Target' (`{Name, Node}' or a pid)
%% in `Encoding' (`plain': `!' as OTP writes it, REG_SEND or SEND_SENDER;
%% `trace_token': the same with a seq_trace token, the _TT operations).
%% Returns a key for `effect/2'.
-spec attack(atom(), term(), plain | trace_token) -> {reference(), term()}.
attack(Attack, Target, Encoding) ->
    Ref = make_ref(),
    ?AGENT ! {attack, self(), Ref, Attack, Target, Encoding},
    receive {Ref, Key} -> Key end.

%% @doc What came back for the attack `Key' within `WaitMs' (returns as
%% soon as it is there): `{effect, Msg}' or `no_effect'.
-spec effect({reference(), term()}, non_neg_integer()) -> {effect, term()} | no_effect.
effect(Key, WaitMs) ->
    Ref = make_ref(),
    ?AGENT ! {effect, self(), Ref, Key, WaitMs},
    receive {Ref, Result} -> Result end.

agent(Inbox) ->
    receive
        {attack, From, Ref, Attack, Target, Encoding} ->
            Tag = make_ref(),
            Old = case Encoding of
                      trace_token -> seq_trace:set_token(label, 16);
                      plain -> undefined
                  end,
            Expect = send_attack(Attack, Target, self(), Tag),
            _ = Encoding =:= trace_token andalso seq_trace:set_token([]) =:= Old,
            From ! {Ref, {Tag, Expect}},
            agent(Inbox);
        {effect, From, Ref, Key, WaitMs} ->
            case take(Key, Inbox) of
                {Msg, Rest} ->
                    From ! {Ref, {effect, Msg}},
                    agent(Rest);
                none ->
                    receive
                        Msg when is_tuple(Msg), tuple_size(Msg) >= 2 ->
                            case take(Key, [Msg]) of
                                {_, []} -> From ! {Ref, {effect, Msg}}, agent(Inbox);
                                none -> agent_waiting(From, Ref, Key, [Msg | Inbox], WaitMs)
                            end
                    after WaitMs ->
                        From ! {Ref, no_effect},
                        agent(Inbox)
                    end
            end;
        Other ->
            agent([Other | Inbox])
    end.

%% Keep waiting for the effect with what remains of the wait (simple:
%% the full wait again; messages to the agent are few).
agent_waiting(From, Ref, Key, Inbox, WaitMs) ->
    self() ! {effect, From, Ref, Key, WaitMs},
    agent(Inbox).

take({Tag, Expect}, Inbox) ->
    Match = fun({pwned, T}) -> T =:= Tag;
               %% The policy's answers to refused calls are no effect.
               ({_, {error, unauthorized}}) -> false;
               ({_, {badrpc, {'EXIT', unauthorized}}}) -> false;
               (M) when is_tuple(M), tuple_size(M) >= 1 ->
                    element(1, M) =:= Tag orelse (Expect =/= none andalso element(1, M) =:= Expect);
               (_) -> false
            end,
    case lists:splitwith(fun(M) -> not Match(M) end, lists:reverse(Inbox)) of
        {_, []} -> none;
        {Before, [M | After]} -> {M, lists:reverse(Before ++ After)}
    end.

%% Each attack returns the first element of the reply it waits for (if it
%% is not a `{pwned, Tag}' message or a `{Tag, Reply}' reply).
send_attack(rex_cast, Target, Self, Tag) ->
    Target ! {'$gen_cast', {cast, erlang, send, [Self, {pwned, Tag}], group_leader()}},
    none;
send_attack(rex_call, Target, Self, Tag) ->
    Target ! {'$gen_call', {Self, Tag}, {call, erlang, send, [Self, {pwned, Tag}], group_leader()}},
    none;
send_attack(start_child, Target, Self, Tag) ->
    Spec = #{id => Tag, start => {erlang, send, [Self, {pwned, Tag}]}, restart => temporary},
    Target ! {'$gen_call', {Self, Tag}, {start_child, Spec}},
    none;
send_attack(io_request, Target, Self, Tag) ->
    Target ! {io_request, Self, Tag, {put_chars, unicode, erlang, send, [Self, {pwned, Tag}]}},
    none;
send_attack(code_load, Target, Self, _Tag) ->
    %% Up to OTP 25 code_server loads a binary sent to it; from 26 loading
    %% needs prepared code (a local magic reference), so the remote door is
    %% the code path: a directory of the attacker's choice first in it.
    Request = case list_to_integer(erlang:system_info(otp_release)) of
                  Rel when Rel =< 25 ->
                      {Mod, Bin} = payload_module(),
                      {load_binary, Mod, atom_to_list(Mod) ++ ".erl", Bin};
                  _ ->
                      {add_path, first, "/tmp", nocache}
              end,
    Target ! {code_call, Self, Request},
    code_server;
send_attack(file_read, Target, Self, Tag) ->
    Target ! {'$gen_call', {Self, Tag}, {read_file, "/proc/self/environ"}},
    none;
send_attack(file_write, Target, Self, Tag) ->
    Path = "/tmp/edf_evasion_" ++ integer_to_list(erlang:phash2(Tag)),
    Target ! {'$gen_call', {Self, Tag}, {write_file, Path, <<"pwned">>}},
    none;
send_attack(init_request, Target, Self, _Tag) ->
    Target ! {Self, get_arguments},
    init;
send_attack(sys_get_state, Target, Self, Tag) ->
    Target ! {system, {Self, Tag}, get_state},
    none;
send_attack(app_master, Target, Self, _Tag) ->
    %% An application master (unnamed) answers anyone its start type.
    Target ! {start_type, Self},
    start_type;
send_attack(exit_signal, Target, _Self, _Tag) when is_pid(Target) ->
    exit(Target, kill),
    none;
send_attack(link_signal, Target, _Self, _Tag) when is_pid(Target) ->
    link(Target),
    none;
send_attack(group_leader_signal, Target, Self, _Tag) when is_pid(Target) ->
    group_leader(Self, Target),
    none.

%% @doc Send `Msg' to `Name' on `Node' (REG_SEND).
-spec send_named(atom(), node(), term()) -> ok.
send_named(Name, Node, Msg) ->
    {Name, Node} ! Msg,
    ok.

%% @doc Every attack with the registered name it is aimed at (`none' for
%% unnamed targets, `signal' for signals, which take a pid).
-spec targets() -> [{atom(), atom()}].
targets() ->
    [{rex_cast, rex}, {rex_call, rex}, {start_child, kernel_sup}, {io_request, standard_error},
     {code_load, code_server}, {file_read, file_server_2}, {file_write, file_server_2},
     {init_request, init}, {sys_get_state, rex}, {app_master, none},
     {exit_signal, signal}, {link_signal, signal}, {group_leader_signal, signal}].

%% @doc A module that does nothing, as a binary, to load from afar.
-spec payload_module() -> {module(), binary()}.
payload_module() ->
    Forms = [{attribute, 1, module, edf_evasion_payload},
             {attribute, 2, export, [{hello, 0}]},
             {function, 3, hello, 0, [{clause, 3, [], [], [{atom, 3, pwned}]}]}],
    {ok, Mod, Bin} = compile:forms(Forms, []),
    {Mod, Bin}.

%%% Victim side

%% @doc Collect the policy's decisions from now on.
-spec decisions_start() -> ok.
decisions_start() ->
    Pid = spawn(fun() -> collector([], []) end),
    true = register(?COLLECTOR, Pid),
    ok = logger:add_handler(?COLLECTOR, ?MODULE,
                            #{level => all, filter_default => stop,
                              filters => [{edf, {fun logger_filters:domain/2, {log, sub, [erldist_filter]}}}]}).

%% @doc Block until a refusal of a message from `Node' to `To' is logged
%% (or `Timeout' ms pass): the decision or `timeout'.
-spec await_drop(node(), term(), timeout()) -> map() | timeout.
await_drop(Node, To, Timeout) ->
    await_decision(Node, To, drop, Timeout).

%% @doc Block until a decision `Decision' on a message from `Node' to
%% `To' is logged (or `Timeout' ms pass).
-spec await_decision(node(), term(), keep | drop, timeout()) -> map() | timeout.
await_decision(Node, To, Decision, Timeout) ->
    Ref = make_ref(),
    Pred = fun(#{what := erldist_filter_policy, decision := D, node := N} = R) ->
                   D =:= Decision andalso N =:= Node andalso maps:get(to, R, undefined) =:= To;
              (_) -> false
           end,
    ?COLLECTOR ! {await, self(), Ref, Pred},
    receive {Ref, Report} -> Report
    after Timeout -> timeout
    end.

%% @doc Block until `N' decisions (either way) on messages from `Node' to
%% `To' are logged: `{ok, Reports}' (the first `N', oldest first), or
%% `{timeout, Reports}' with those logged within `Timeout' ms.
-spec await_count(node(), term(), pos_integer(), timeout()) -> {ok | timeout, [map()]}.
await_count(Node, To, N, Timeout) ->
    Ref = make_ref(),
    Pred = fun(#{what := erldist_filter_policy, node := Nd} = R) ->
                   Nd =:= Node andalso maps:get(to, R, undefined) =:= To;
              (_) -> false
           end,
    ?COLLECTOR ! {await_count, self(), Ref, Pred, N},
    receive {Ref, Reports} -> {ok, Reports}
    after Timeout ->
            ?COLLECTOR ! {count_now, self(), Ref, Pred},
            receive {Ref, Reports} -> {timeout, Reports} end
    end.

%% @doc Forget the decisions collected so far.
-spec forget() -> ok.
forget() ->
    ?COLLECTOR ! forget,
    ok.

%% @private logger handler callback.
log(#{msg := {report, Report}}, _Config) when is_map(Report) ->
    ?COLLECTOR ! {event, Report},
    ok;
log(_Event, _Config) ->
    ok.

collector(Events, Waiters) ->
    receive
        {event, E} ->
            Events1 = lists:sublist([E | Events], 10000),
            {Done, Left} = lists:partition(fun({_, _, P}) -> match(P, E);
                                              ({count, _, _, P, N}) -> count_reached(P, N, Events1)
                                           end, Waiters),
            [case W of
                 {From, Ref, _} -> From ! {Ref, E};
                 {count, From, Ref, P, N} -> From ! {Ref, lists:sublist(matching(P, Events1), N)}
             end || W <- Done],
            collector(Events1, Left);
        forget ->
            collector([], Waiters);
        {await_count, From, Ref, Pred, N} ->
            case count_reached(Pred, N, Events) of
                true -> From ! {Ref, lists:sublist(matching(Pred, Events), N)}, collector(Events, Waiters);
                false -> collector(Events, [{count, From, Ref, Pred, N} | Waiters])
            end;
        {count_now, From, Ref, Pred} ->
            Left = [W || W <- Waiters, not (element(1, W) =:= count andalso element(3, W) =:= Ref)],
            From ! {Ref, matching(Pred, Events)},
            collector(Events, Left);
        {await, From, Ref, Pred} ->
            case [E || E <- lists:reverse(Events), match(Pred, E)] of
                [E | _] -> From ! {Ref, E}, collector(Events, Waiters);
                [] -> collector(Events, [{From, Ref, Pred} | Waiters])
            end
    end.

matching(Pred, Events) ->
    [E || E <- lists:reverse(Events), match(Pred, E)].

count_reached(Pred, N, Events) ->
    length(matching(Pred, Events)) >= N.

match(Pred, E) ->
    try Pred(E) =:= true catch _:_ -> false end.

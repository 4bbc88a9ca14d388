%%% The safe policy guards processes, not only names (issue 16).
%%%
%%% Each case is one attack on one of OTP's own processes (`rex' cast and
%%% call, a supervisor's `start_child', an `io_request', code loading
%%% through `code_server', file read and write through `file_server_2',
%%% `init' requests, `sys' messages, an application master (no name), and
%%% the exit / link / group-leader signals), sent from a stock `inet_tcp'
%%% attacker peer in every encoding OTP writes for it: to the registered
%%% name (REG_SEND, REG_SEND_TT) and to the pid (SEND_SENDER,
%%% SEND_SENDER_TT; EXIT2, LINK, GROUP_LEADER for the signals); the
%%% stock node writes atoms as atom-cache references.
%%%
%%% First against a stock victim (no filter): every variant takes effect,
%%% so each case is real and the check can fail. Then against a victim with
%%% the one-line safe policy: the refusal is logged, nothing came back,
%%% the target is unharmed and the victim is up.
%%%
%%% Synchronisation is by messages: the effect of an attack is a message to
%%% the attacking process, and the safe victim's refusal is awaited as a
%%% logged decision (see `edf_test_evasion').
-module(erldist_filter_evasion_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0]).
-export([init_per_testcase/2, end_per_testcase/2]).
-export([rex_cast/1, rex_call/1, start_child/1, io_request/1, code_load/1,
         file_read/1, file_write/1, init_request/1, sys_get_state/1, app_master/1,
         exit_signal/1, link_signal/1, group_leader_signal/1]).

%% Run on the victims
-export([setup_victim/2]).
-export([target_pid/1]).
-export([signal_effect/3]).

-define(TIMEOUT, 20000).
%% The longest a stock victim may take to show an effect (returns earlier).
-define(EFFECT_MS, 10000).

suite() ->
    [{timetrap, {minutes, 3}}].

all() ->
    [rex_cast, rex_call, start_child, io_request, code_load, file_read, file_write,
     init_request, sys_get_state, app_master, exit_signal, link_signal,
     group_leader_signal].

init_per_testcase(_Case, Config) ->
    {ok, Stock} = edf_test_peer:start(#{carrier => stock_inet, prefix => "stock",
                                        args => ["-connect_all", "false"]}),
    {ok, Safe} = edf_test_peer:start(#{carrier => filter_inet, prefix => "safe",
                                       args => ["-erldist_filter", "safe_policy", "true",
                                                "-connect_all", "false"]}),
    {ok, Attacker} = edf_test_peer:start(#{carrier => stock_inet, prefix => "attacker",
                                           args => ["-connect_all", "false"]}),
    [ok = call(V, ?MODULE, setup_victim, [app_dir(), Mode]) || {V, Mode} <- [{Stock, stock}, {Safe, safe}]],
    [?assertEqual(pong, call(Attacker, net_adm, ping, [node_of(V)])) || V <- [Stock, Safe]],
    _ = call(Attacker, edf_test_evasion, agent_start, []),
    [{stock, Stock}, {safe, Safe}, {attacker, Attacker} | Config].

end_per_testcase(_Case, Config) ->
    edf_test_peer:stop_all([?config(K, Config) || K <- [attacker, stock, safe]]),
    ok.

%%% Test cases

rex_cast(Config) -> message_attack(rex_cast, Config).
rex_call(Config) -> message_attack(rex_call, Config).
start_child(Config) -> message_attack(start_child, Config).
io_request(Config) -> message_attack(io_request, Config).
code_load(Config) ->
    message_attack(code_load, Config),
    %% The module was loaded on the stock victim only.
    ?assertMatch({file, _}, call(?config(stock, Config), code, is_loaded, [edf_evasion_payload])),
    ?assertEqual(false, call(?config(safe, Config), code, is_loaded, [edf_evasion_payload])).
file_read(Config) -> message_attack(file_read, Config).
file_write(Config) -> message_attack(file_write, Config).
init_request(Config) -> message_attack(init_request, Config).
sys_get_state(Config) -> message_attack(sys_get_state, Config).
app_master(Config) -> message_attack(app_master, Config).

exit_signal(Config) -> signal_attack(exit_signal, Config).
link_signal(Config) -> signal_attack(link_signal, Config).
group_leader_signal(Config) -> signal_attack(group_leader_signal, Config).

%%% Helpers

%% Every variant takes effect on the stock victim, none on the safe one.
message_attack(Attack, Config) ->
    {_, Name} = lists:keyfind(Attack, 1, edf_test_evasion:targets()),
    [begin
         Target = target(Config, V, Name, Addressing),
         Key = attack(Config, Attack, Target, Encoding),
         Variant = {Attack, V, Addressing, Encoding},
         case V of
             stock ->
                 ?assertMatch({Variant, {effect, _}}, {Variant, effect(Config, Key, ?EFFECT_MS)});
             safe ->
                 To = case Target of {N, _} -> N; Pid -> Pid end,
                 Decision = call(?config(safe, Config), edf_test_evasion, await_drop,
                                 [node_of(?config(attacker, Config)), To, ?TIMEOUT]),
                 ?assertMatch({Variant, #{decision := drop}}, {Variant, Decision}),
                 ?assertEqual({Variant, no_effect}, {Variant, effect(Config, Key, 0)})
         end
     end
     || V <- [stock, safe], Addressing <- addressings(Name), Encoding <- [plain, trace_token]],
    victim_up(Config).

%% Signals go to pids; the effect is read on the victim after a call from
%% the attacker that follows the signal on the same connection.
signal_attack(Attack, Config) ->
    [begin
         Victim = ?config(V, Config),
         Target = call(Victim, ?MODULE, target_pid, [signal_target(Attack, Encoding)]),
         Key = attack(Config, Attack, Target, Encoding),
         Agent = call(?config(attacker, Config), erlang, whereis, [edf_test_evasion_agent]),
         %% An allowlisted call on the same connection: the signal was read before it.
         VictimNode = node_of(Victim),
         VictimNode = call(?config(attacker, Config), erpc, call, [VictimNode, erlang, node, []]),
         Variant = {Attack, V, Encoding},
         case V of
             stock ->
                 ?assertEqual({Variant, true},
                              {Variant, call(Victim, ?MODULE, signal_effect, [Attack, Target, Agent])});
             safe ->
                 Attack =/= link_signal andalso
                     ?assertMatch({Variant, #{decision := drop}},
                                  {Variant, call(Victim, edf_test_evasion, await_drop,
                                                 [node_of(?config(attacker, Config)), Target, ?TIMEOUT])}),
                 ?assertEqual({Variant, false},
                              {Variant, call(Victim, ?MODULE, signal_effect, [Attack, Target, Agent])}),
                 ?assertEqual(no_effect, effect(Config, Key, 0))
         end
     end
     || V <- [stock, safe], Encoding <- [plain, trace_token]],
    victim_up(Config).

%% A killed target is restarted under a new pid: kill another one the
%% second time.
signal_target(exit_signal, trace_token) -> global_group;
signal_target(_Attack, _Encoding) -> rex.

addressings(none) -> [pid];
addressings(_Name) -> [name, pid].

target(Config, V, Name, name) -> {Name, node_of(?config(V, Config))};
target(Config, V, none, pid) -> call(?config(V, Config), application_controller, get_master, [kernel]);
target(Config, V, Name, pid) -> call(?config(V, Config), ?MODULE, target_pid, [Name]).

attack(Config, Attack, Target, Encoding) ->
    call(?config(attacker, Config), edf_test_evasion, attack, [Attack, Target, Encoding]).

effect(Config, Key, WaitMs) ->
    call(?config(attacker, Config), edf_test_evasion, effect, [Key, WaitMs]).

victim_up(Config) ->
    A = ?config(attacker, Config),
    [begin
         ?assertEqual(node_of(V), call(V, erlang, node, [])),
         ?assertEqual(pong, call(A, net_adm, ping, [node_of(V)]))
     end || V <- [?config(stock, Config), ?config(safe, Config)]].

app_dir() ->
    filename:dirname(code:where_is_file("erldist_filter.app")).

node_of(#{node := Node}) -> Node.
call(#{pid := Pid}, M, F, A) -> peer:call(Pid, M, F, A, ?TIMEOUT).

%%% Victim side

%% @private Both victims run the application (so its processes exist on
%% both); the safe one also collects the policy's decisions and has its
%% protected set computed now.
setup_victim(AppDir, Mode) ->
    true = code:add_pathz(AppDir),
    {ok, _} = application:ensure_all_started(erldist_filter),
    case Mode of
        stock ->
            ok;
        safe ->
            erldist_filter_policy = erldist_filter:handler_get(),
            ok = edf_test_evasion:decisions_start(),
            _ = erldist_filter_protected:refresh_sync(),
            ok
    end.

%% @private
target_pid(Name) ->
    whereis(Name).

%% @private Whether the signal took effect on `Target'.
signal_effect(exit_signal, Target, _Agent) ->
    not is_process_alive(Target);
signal_effect(link_signal, Target, Agent) ->
    {links, Links} = erlang:process_info(Target, links),
    lists:member(Agent, Links);
signal_effect(group_leader_signal, Target, Agent) ->
    {group_leader, Gl} = erlang:process_info(Target, group_leader),
    Gl =:= Agent.

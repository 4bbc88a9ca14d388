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
%%% `raw_encodings' sends the rex cast by pid in the encodings OTP does
%%% not write (inline atoms, cache references, SEND/SEND_TT, fragments,
%%% pass-through)
%%% from a raw connection; `bounded_allowlisted_names' shows the bounds on
%%% what allowlisted names receive; `replies_reach_unnamed_protected' that
%%% gen replies still reach a protected process without a name;
%%% `pg_hostile_join' what a peer scope may not make pg store (or crash on).
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
         exit_signal/1, link_signal/1, group_leader_signal/1,
         raw_encodings/1, bounded_allowlisted_names/1, replies_reach_unnamed_protected/1,
         pg_hostile_join/1, alias_of_protected/1]).

%% Run on the victims
-export([setup_victim/2]).
-export([target_pid/1]).
-export([signal_effect/3]).
-export([pg_effects/0, pg_down_after/2]).
%% Run on the attacker
-export([pg_holder_start/1, pg_holder_send/1, pg_holder_sync/0]).
-export([alias_bait_start/2, alias_bait_alias/0]).

-define(TIMEOUT, 20000).
%% The longest a stock victim may take to show an effect (returns earlier).
-define(EFFECT_MS, 10000).
%% The longest to wait for a victim's decision (under the peer call's timeout).
-define(AWAIT_MS, 10000).

suite() ->
    [{timetrap, {minutes, 3}}].

all() ->
    [rex_cast, rex_call, start_child, io_request, code_load, file_read, file_write,
     init_request, sys_get_state, app_master, exit_signal, link_signal,
     group_leader_signal, raw_encodings, bounded_allowlisted_names,
     replies_reach_unnamed_protected, pg_hostile_join, alias_of_protected].

init_per_testcase(Case, Config) ->
    %% pg's default scope runs on the victims only where a case needs it.
    Pg = case Case of
             pg_hostile_join -> ["-kernel", "start_pg", "true"];
             _ -> []
         end,
    {ok, Stock} = edf_test_peer:start(#{carrier => stock_inet, prefix => "stock",
                                        args => ["-connect_all", "false" | Pg]}),
    {ok, Safe} = edf_test_peer:start(#{carrier => filter_inet, prefix => "safe",
                                       args => ["-erldist_filter", "safe_policy", "true",
                                                "-connect_all", "false" | Pg]}),
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
    %% The module was loaded (up to OTP 25), or /tmp put first in the code
    %% path (from 26), on the stock victim only.
    Loaded = fun(V) ->
                     case list_to_integer(erlang:system_info(otp_release)) of
                         Rel when Rel =< 25 -> call(?config(V, Config), code, is_loaded, [edf_evasion_payload]) =/= false;
                         _ -> hd(call(?config(V, Config), code, get_path, [])) =:= "/tmp"
                     end
             end,
    ?assert(Loaded(stock)),
    ?assertNot(Loaded(safe)).
file_read(Config) -> message_attack(file_read, Config).
file_write(Config) -> message_attack(file_write, Config).
init_request(Config) -> message_attack(init_request, Config).
sys_get_state(Config) -> message_attack(sys_get_state, Config).
app_master(Config) -> message_attack(app_master, Config).

exit_signal(Config) -> signal_attack(exit_signal, Config).
link_signal(Config) -> signal_attack(link_signal, Config).
group_leader_signal(Config) -> signal_attack(group_leader_signal, Config).

%% The rex cast by pid in the encodings OTP does not write but the VM
%% reads, from a raw connection (`edf_hostile_peer'): inline atoms,
%% atom-cache references, a plain SEND and SEND_TT (no sender), a
%% two-fragment message, and pass-through framing ('p', negotiated
%% without atom-cache headers and fragments). The cast makes the victim's rex send to the attacker's
%% agent, over the victims' ordinary connection to the attacker.
raw_encodings(Config) ->
    Agent = call(?config(attacker, Config), erlang, whereis, [edf_test_evasion_agent]),
    [begin
         Victim = ?config(V, Config),
         VictimNode = node_of(Victim),
         Rex = call(Victim, erlang, whereis, [rex]),
         {ok, Conn} = edf_hostile_peer:connect(VictimNode, #{flags => raw_flags(Encoding), creation => 7}),
         Tag = erlang:unique_integer([positive]),
         ok = send_raw_cast(Conn, Encoding, Rex, Agent, Tag),
         Variant = {raw, V, Encoding},
         Key = {Tag, none},
         case V of
             stock ->
                 ?assertMatch({Variant, {effect, _}}, {Variant, effect(Config, Key, ?EFFECT_MS)});
             safe ->
                 Decision = call(Victim, edf_test_evasion, await_drop,
                                 [edf_hostile_peer:node_name(Conn), Rex, ?AWAIT_MS]),
                 ?assertMatch({Variant, #{decision := drop}}, {Variant, Decision}),
                 ?assertEqual({Variant, no_effect}, {Variant, effect(Config, Key, 0)}),
                 ?assertEqual(Rex, call(Victim, erlang, whereis, [rex]))
         end,
         edf_hostile_peer:close(Conn)
     end
     || V <- [stock, safe],
        Encoding <- [inline_atoms, cache_refs, send, send_tt, fragments, pass_through]],
    victim_up(Config).

%% Messages to allowlisted names are bounded: a log event whose format
%% expands (field width), one nested too deep, an event logger_proxy
%% would relay to another node, a global registration over the size bound
%% and one of a name over 1 KiB are refused; an ordinary log event is
%% delivered. (`pg' has its own case, `pg_hostile_join'.)
bounded_allowlisted_names(Config) ->
    Safe = ?config(safe, Config),
    SafeNode = node_of(Safe),
    Attacker = node_of(?config(attacker, Config)),
    Refused = [{logger_proxy, {log, notice, "~999999999p", [x], #{}}, logger_format_refused},
               {logger_proxy, {log, notice, "~p", [deep(100)], #{}}, logger_format_refused},
               {logger_proxy, {remote, Attacker, {log, notice, "x", [], #{}}}, logger_request},
               {logger_proxy, {log, notice, "~p", [binary:copy(<<"x">>, 100000)], #{}}, payload_too_large},
               {global_name_server, {'$gen_call', {self, ref}, {register, binary:copy(<<"n">>, 5 bsl 20), self, method}},
                payload_too_large},
               {global_name_server, {'$gen_call', {self, ref}, {register, binary:copy(<<"n">>, 2000), self, method}},
                global_name_too_large}],
    [begin
         ok = call(?config(attacker, Config), edf_test_evasion, send_named, [Name, SafeNode, Msg]),
         ?assertMatch({Name, Reason, #{decision := drop, reason := Reason}},
                      {Name, Reason, call(Safe, edf_test_evasion, await_drop, [Attacker, Name, ?AWAIT_MS])}),
         ok = call(Safe, edf_test_evasion, forget, [])
     end || {Name, Msg, Reason} <- Refused],
    %% An ordinary remote log event reaches the victim's logger.
    ok = call(?config(attacker, Config), edf_test_evasion, send_named,
              [logger_proxy, SafeNode, {log, notice, "edf evasion ~p", [hello], #{}}]),
    ?assertMatch(#{decision := keep},
                 call(Safe, edf_test_evasion, await_decision, [Attacker, logger_proxy, keep, ?AWAIT_MS])),
    victim_up(Config).

%% What a protected process without a name may get from afar: replies to
%% its own gen calls, old style (`{Ref, Reply}', to its pid) or with an
%% alias tag. They are delivered; anything else is refused (app_master).
replies_reach_unnamed_protected(Config) ->
    Safe = ?config(safe, Config),
    Master = call(Safe, application_controller, get_master, [kernel]),
    Attacker = node_of(?config(attacker, Config)),
    [begin
         ok = call(?config(attacker, Config), erlang, apply,
                   [fun(P, M) -> P ! M, ok end, [Master, Reply]]),
         ?assertMatch(#{decision := keep, reason := reply_to_protected},
                      call(Safe, edf_test_evasion, await_decision, [Attacker, Master, keep, ?AWAIT_MS])),
         ok = call(Safe, edf_test_evasion, forget, [])
     end || Reply <- [{make_ref(), late_reply}, {[alias | make_ref()], late_reply}]],
    victim_up(Config).

%% pg's default scope takes from a peer scope (here a process of the
%% attacker that discovered it) a join of a group over 4 MiB, a join that
%% makes a process of the victim itself (`init') a member announced by the
%% attacker, and a message pg does not know, on which it crashes (a few
%% such crashes take down kernel_safe_sup and the node with it). On the
%% stock victim each takes effect: the huge group and the forged member
%% are stored, pg restarts. With the safe policy every message to `pg' is
%% judged: refused (`payload_too_large', `pg_request'), logged, nothing
%% stored, pg the same process; the peer's own discover still works.
pg_hostile_join(Config) ->
    Attacker = ?config(attacker, Config),
    [begin
         Victim = ?config(V, Config),
         VictimNode = node_of(Victim),
         Holder = call(Attacker, ?MODULE, pg_holder_start, [VictimNode]),
         Init = call(Victim, erlang, whereis, [init]),
         #{pid := Pg0, huge := false, forged := [], forged_update := []} =
             call(Victim, ?MODULE, pg_effects, []),
         Huge = {join, Holder, {edf_huge, binary:copy(<<"h">>, 5 bsl 20)}, Holder},
         Forged = {join, Holder, edf_forged, [Init]},
         %% OTP 29's pg (data_publisher) also takes updates from a peer.
         Pg29 = list_to_integer(call(Victim, erlang, system_info, [otp_release])) >= 29,
         Update = [{update, Holder, [{edf_forged_update, [Init], []}]} || Pg29],
         [ok = call(Attacker, ?MODULE, pg_holder_send, [Msg]) || Msg <- [Huge, Forged | Update]],
         ok = call(Attacker, ?MODULE, pg_holder_sync, []),
         case V of
             stock ->
                 ForgedUpdate = [Init || Pg29],
                 ?assertMatch({V, #{pid := Pg0, huge := true, forged := [Init],
                                    forged_update := ForgedUpdate}},
                              {V, call(Victim, ?MODULE, pg_effects, [])});
             safe ->
                 %% The discover, the joins (and update), the discover of the sync.
                 {ok, Decisions} = call(Victim, edf_test_evasion, await_count,
                                        [node_of(Attacker), pg, 4 + length(Update), ?AWAIT_MS]),
                 ?assertEqual([{keep, allowed_name}, {drop, payload_too_large}, {drop, pg_request}]
                              ++ [{drop, pg_request} || _ <- Update] ++ [{keep, allowed_name}],
                              [{D, R} || #{decision := D, reason := R} <- Decisions]),
                 ?assertMatch({V, #{pid := Pg0, huge := false, forged := [], forged_update := []}},
                              {V, call(Victim, ?MODULE, pg_effects, [])}),
                 ok = call(Victim, edf_test_evasion, forget, [])
         end,
         ok = call(Attacker, ?MODULE, pg_holder_send, [{edf_hostile, crash}]),
         case V of
             stock ->
                 ?assertEqual({V, true}, {V, call(Victim, ?MODULE, pg_down_after, [Pg0, ?EFFECT_MS])});
             safe ->
                 ?assertMatch({V, #{decision := drop, reason := pg_request}},
                              {V, call(Victim, edf_test_evasion, await_drop, [node_of(Attacker), pg, ?AWAIT_MS])}),
                 ?assertEqual({V, false}, {V, call(Victim, ?MODULE, pg_down_after, [Pg0, 0])}),
                 ok = call(Attacker, ?MODULE, pg_holder_sync, [])
         end,
         call(Attacker, erlang, exit, [Holder, kill])
     end || V <- [stock, safe]],
    victim_up(Config).

%% An alias of a protected process: rex runs a `block_call' in its own
%% process, and here it calls a process of the attacker (the bait), so
%% the bait gets rex's alias (gen's tag `[alias | Alias]'). Before it
%% replies, the bait sends a rex cast to that alias (ALIAS_SEND). On the
%% stock victim rex takes it from its mailbox after the call and runs it
%% (the agent gets `{pwned, Tag}'). With the safe policy every gen
%% request to an alias reaches the policy and is refused
%% (`request_to_alias', logged); the reply to rex's call, tagged with the
%% alias, is delivered (the call returns).
alias_of_protected(Config) ->
    Attacker = ?config(attacker, Config),
    AttackerNode = node_of(Attacker),
    Agent = call(Attacker, erlang, whereis, [edf_test_evasion_agent]),
    [begin
         Victim = ?config(V, Config),
         VictimNode = node_of(Victim),
         Tag = erlang:unique_integer([positive]),
         ok = call(Attacker, ?MODULE, alias_bait_start, [Agent, Tag]),
         ?assertEqual({V, bait_taken},
                      {V, call(Victim, rpc, block_call,
                               [VictimNode, gen_server, call, [{edf_alias_bait, AttackerNode}, bait, 10000]])}),
         Alias = call(Attacker, ?MODULE, alias_bait_alias, []),
         ?assert(is_reference(Alias)),
         Key = {Tag, none},
         case V of
             stock ->
                 ?assertMatch({V, {effect, _}}, {V, effect(Config, Key, ?EFFECT_MS)});
             safe ->
                 ?assertMatch({V, #{decision := drop, reason := request_to_alias}},
                              {V, call(Victim, edf_test_evasion, await_drop, [AttackerNode, Alias, ?AWAIT_MS])}),
                 ?assertEqual({V, no_effect}, {V, effect(Config, Key, 0)})
         end,
         call(Attacker, erlang, exit, [call(Attacker, erlang, whereis, [edf_alias_bait]), kill])
     end || V <- [stock, safe]],
    victim_up(Config).

deep(0) -> [];
deep(N) -> [deep(N - 1)].

%% OTP 25's default flags; pass-through framing is used without
%% atom-cache headers and fragments.
raw_flags(pass_through) -> edf_hostile_peer:default_flags() band bnot (16#2000 bor 16#800000);
raw_flags(_Encoding) -> edf_hostile_peer:default_flags().

%% A rex cast to `Rex' in one raw encoding; `Agent' gets `{pwned, Tag}'.
send_raw_cast(Conn, Encoding, Rex, Agent, Tag) ->
    From = from_pid(edf_hostile_peer:node_name(Conn)),
    To = pid_ext(Rex),
    Payload = edf_hostile_peer:term({'$gen_cast', {cast, erlang, send, [Agent, {pwned, Tag}], Agent}}),
    Empty = edf_hostile_peer:term(''),
    Token = edf_hostile_peer:term({0, 16, 0, From, 0}),
    case Encoding of
        inline_atoms ->
            send_d(Conn, [], [<<104, 3, 97, 22>>, From, To], Payload);
        cache_refs ->
            %% The victim's name (in the target pid) as a new cache entry.
            {_, NodeName} = node_text(Rex),
            Refs = [{new, 5, NodeName}],
            <<88, _/binary>> = To,
            ToRef = <<88, 82, 0, (binary:part(To, byte_size(To) - 12, 12))/binary>>,
            send_d(Conn, Refs, [<<104, 3, 97, 22>>, From, ToRef], Payload);
        send ->
            send_d(Conn, [], [<<104, 3, 97, 2>>, Empty, To], Payload);
        send_tt ->
            send_d(Conn, [], [<<104, 4, 97, 12>>, Empty, To, Token], Payload);
        fragments ->
            Control = iolist_to_binary([<<104, 3, 97, 22>>, From, To]),
            Half = byte_size(Payload) div 2,
            <<P1:Half/binary, P2/binary>> = Payload,
            ok = edf_hostile_peer:send_frame(Conn, edf_hostile_peer:frame_frag_header(1, 2, [], Control, P1)),
            edf_hostile_peer:send_frame(Conn, edf_hostile_peer:frame_frag_cont(1, 1, P2));
        pass_through ->
            edf_hostile_peer:send_frame(Conn, [<<$p, 131>>, <<104, 3, 97, 22>>, From, To, <<131>>, Payload])
    end.

send_d(Conn, Refs, Control, Payload) ->
    edf_hostile_peer:send_frame(Conn, edf_hostile_peer:frame_normal(Refs, Control, Payload)).

%% A pid of the raw peer, inline node atom.
from_pid(Node) ->
    Name = atom_to_binary(Node, utf8),
    <<88, 119, (byte_size(Name)), Name/binary, 1:32, 0:32, 7:32>>.

%% The external encoding of a pid (NEW_PID_EXT, inline node atom).
pid_ext(Pid) ->
    <<131, Bin/binary>> = term_to_binary(Pid, [{minor_version, 2}]),
    Bin.

node_text(Pid) ->
    <<88, 119, Len, Name:Len/binary, _/binary>> = pid_ext(Pid),
    {Len, Name}.

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
                                 [node_of(?config(attacker, Config)), To, ?AWAIT_MS]),
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
                                                 [node_of(?config(attacker, Config)), Target, ?AWAIT_MS])}),
                 ?assertEqual({Variant, false},
                              {Variant, call(Victim, ?MODULE, signal_effect, [Attack, Target, Agent])}),
                 ?assertEqual(no_effect, effect(Config, Key, 0))
         end
     end
     || V <- [stock, safe], Encoding <- [plain, trace_token]],
    victim_up(Config).

%% Kill signals go to sasl's alarm_handler: its supervisor restarts it
%% (up to 4 times an hour), while from OTP 29 killing any kernel process
%% takes the whole node down (kernel_sup's restart intensity is 0), which
%% would end the stock victim after the first variant.
signal_target(exit_signal, _Encoding) -> alarm_handler;
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
    {ok, _} = application:ensure_all_started(sasl),
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
    target_pid(Name, 500).

%% A target killed by the previous variant is being restarted by its
%% supervisor: wait (bounded) until it is registered again.
target_pid(Name, 0) ->
    whereis(Name);
target_pid(Name, Tries) ->
    case whereis(Name) of
        undefined -> timer:sleep(10), target_pid(Name, Tries - 1);
        Pid -> Pid
    end.

%% @private What pg's default scope holds: its pid, whether a group over
%% 4 MiB is stored, the members of `edf_forged'.
pg_effects() ->
    #{pid => whereis(pg),
      huge => lists:any(fun(G) -> erlang:external_size(G) > 4 bsl 20 end, pg:which_groups()),
      forged => pg:get_members(edf_forged),
      forged_update => pg:get_members(edf_forged_update)}.

%% @private Whether the pg process `Pid' goes down within `Timeout' ms.
pg_down_after(Pid, Timeout) ->
    MRef = erlang:monitor(process, Pid),
    receive {'DOWN', MRef, process, Pid, _} -> true
    after Timeout -> erlang:demonitor(MRef, [flush]), false
    end.

%%% Attacker side

%% @private A process of the attacker (registered `edf_pg_holder') that
%% discovered pg on `Node' as a peer scope: pg keeps what it announces.
pg_holder_start(Node) ->
    Parent = self(),
    Ref = make_ref(),
    Pid = spawn(fun() ->
                        true = register(edf_pg_holder, self()),
                        {pg, Node} ! {discover, self()},
                        Parent ! {Ref, pg_await_sync()},
                        pg_holder(Node)
                end),
    receive {Ref, ok} -> Pid end.

%% @private Have the holder send `Msg' to pg.
pg_holder_send(Msg) ->
    edf_pg_holder ! {send, Msg},
    ok.

%% @private pg has handled what the holder sent before (it answers a
%% discover with a sync).
pg_holder_sync() ->
    Ref = make_ref(),
    edf_pg_holder ! {sync, self(), Ref},
    receive {Ref, Reply} -> Reply end.

pg_holder(Node) ->
    receive
        {send, Msg} -> {pg, Node} ! Msg, pg_holder(Node);
        {sync, From, Ref} ->
            {pg, Node} ! {discover, self()},
            From ! {Ref, pg_await_sync()},
            pg_holder(Node)
    end.

pg_await_sync() ->
    receive {'$gen_cast', {sync, _, _}} -> ok
    after ?AWAIT_MS -> timeout
    end.

%% @private A process of the attacker (registered `edf_alias_bait') that
%% answers one gen call: first a rex cast (`Agent' gets `{pwned, Tag}')
%% to the caller's alias, then the reply `bait_taken'. It keeps the alias
%% for `alias_bait_alias/0'.
alias_bait_start(Agent, Tag) ->
    Parent = self(),
    Ref = make_ref(),
    Pid = spawn(fun() ->
                        true = register(edf_alias_bait, self()),
                        Parent ! {Ref, ok},
                        receive
                            {'$gen_call', {_Caller, [alias | Alias]} = From, bait} ->
                                Alias ! {'$gen_cast', {cast, erlang, send, [Agent, {pwned, Tag}], Agent}},
                                gen:reply(From, bait_taken),
                                alias_bait_keep(Alias)
                        end
                end),
    receive {Ref, ok} -> ok after ?AWAIT_MS -> exit(Pid, kill), timeout end.

alias_bait_keep(Alias) ->
    receive
        {alias, From, Ref} -> From ! {Ref, Alias}, alias_bait_keep(Alias)
    end.

%% @private The alias the bait was called with.
alias_bait_alias() ->
    Ref = make_ref(),
    edf_alias_bait ! {alias, self(), Ref},
    receive {Ref, Alias} -> Alias after ?AWAIT_MS -> timeout end.

%% @private Whether the signal took effect on `Target'.
signal_effect(exit_signal, Target, _Agent) ->
    not is_process_alive(Target);
signal_effect(link_signal, Target, Agent) ->
    {links, Links} = erlang:process_info(Target, links),
    lists:member(Agent, Links);
signal_effect(group_leader_signal, Target, Agent) ->
    {group_leader, Gl} = erlang:process_info(Target, group_leader),
    Gl =:= Agent.

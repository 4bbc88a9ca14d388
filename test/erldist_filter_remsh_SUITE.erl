%%% `erl -remsh' in a real terminal (`edf_test_tmux') against a node with
%%% the safe policy and `{operators, [release_tools]}': a client named
%%% `remsh…' (a release tool's name, on loopback) gets the victim's prompt
%%% and evaluates there; a client named otherwise gets no shell, and the
%%% victim's policy is still on (the refusal is the policy's, not a policy
%%% turned off).
-module(erldist_filter_remsh_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0]).
-export([init_per_suite/1, end_per_suite/1]).
-export([init_per_testcase/2, end_per_testcase/2]).

-export([operator_remsh_gets_a_shell/1]).
-export([other_remsh_gets_no_shell/1]).

-define(TIMEOUT, 30000).

suite() ->
    [{timetrap, {minutes, 3}}].

all() ->
    [operator_remsh_gets_a_shell, other_remsh_gets_no_shell].

init_per_suite(Config) ->
    edf_test_tmux:require(Config).

end_per_suite(_Config) ->
    ok.

init_per_testcase(TestCase, Config) ->
    {ok, Victim} = edf_test_peer:start(#{prefix => "victim",
                                         args => ["-erldist_filter", "safe_policy", "true",
                                                  "-erldist_filter", "operators", "[release_tools]"]}),
    {ok, _} = peer:call(maps:get(pid, Victim), application, ensure_all_started, [erldist_filter]),
    %% `remsh1' matches release_tools' `remsh*', `other1' no pattern.
    Prefix = case TestCase of
                 operator_remsh_gets_a_shell -> "remsh1";
                 other_remsh_gets_no_shell -> "other1"
             end,
    {Socket, Client} = remsh(maps:get(node, Victim), Prefix),
    [{victim, Victim}, {socket, Socket}, {client, Client} | Config].

%% The tmux server (on its own socket) takes the client node down.
end_per_testcase(_TestCase, Config) ->
    edf_test_tmux:stop(?config(socket, Config)),
    edf_test_peer:stop(?config(victim, Config)).

%%% Test cases

operator_remsh_gets_a_shell(Config) ->
    #{node := Victim} = ?config(victim, Config),
    Socket = ?config(socket, Config),
    Client = ?config(client, Config),
    Prompt = "(" ++ atom_to_list(Victim) ++ ")1>",
    edf_test_tmux:await_text(Socket, Prompt),
    %% Evaluated on the victim: its filter is on, and it counts this
    %% client as an operator.
    edf_test_tmux:keys(Socket, "{node(), erldist_filter_nif:config_get(deep_packet_inspection), "
                               "erldist_filter_operator:is_operator('" ++ atom_to_list(Client) ++ "')}."),
    edf_test_tmux:await_text(Socket, "{'" ++ atom_to_list(Victim) ++ "',true,true}"),
    edf_test_tmux:keys(Socket, "erldist_filter:world_stats_print()."),
    edf_test_tmux:await_text(Socket, "(" ++ atom_to_list(Victim) ++ ")3>"),
    ok = stop_client(Socket).

other_remsh_gets_no_shell(Config) ->
    #{node := Victim, pid := VictimPid} = ?config(victim, Config),
    Socket = ?config(socket, Config),
    Client = ?config(client, Config),
    %% Long crash reports scroll: look at all the terminal has shown.
    Screen = edf_test_tmux:await_history_text(Socket, refusal_text()),
    ct:log("~ts", [Screen]),
    ?assertEqual(nomatch, string:find(Screen, "(" ++ atom_to_list(Victim) ++ ")1>")),
    %% The policy was on and the client, still connected, was no operator.
    ?assertEqual(true, peer:call(VictimPid, erldist_filter_nif, config_get, [deep_packet_inspection])),
    ?assert(lists:member(Client, peer:call(VictimPid, erlang, nodes, [connected]))),
    ?assertEqual(false, peer:call(VictimPid, erldist_filter_operator, is_operator, [Client])),
    ok.

%% What the refused client prints (the client's erl is this OTP). Up to
%% OTP 25 the remote shell is a remote spawn of `shell:start', refused:
%% "Shell process terminated". From OTP 26 the client's `user_drv' first
%% calls `erpc:call(Victim, code, ensure_loaded, [shell])'; the policy
%% refuses it, so `user_drv' dies of the refusal's own reason, which the
%% client prints (OTP 27 as `user_sup''s child terminating, OTP 29 as
%% `user_drv''s "Reason for termination"), and no shell starts.
refusal_text() ->
    case list_to_integer(erlang:system_info(otp_release)) of
        Release when Release =< 25 -> "Shell process terminated";
        _ -> "{exception,unauthorized}"
    end.

%%% Helpers

%% `erl -remsh Victim' in a terminal, named `Prefix'_p<port> (the port
%% is for edf_test_epmd); the stock carrier, as an operator's erl has.
%% After erl exits the pane stays, with its exit status.
remsh(Victim, Prefix) ->
    Name = edf_test_epmd:node_name(Prefix, {127, 0, 0, 1}) ++ "@127.0.0.1",
    Erl = lists:join(" ", ["erl -name", Name, "-remsh", atom_to_list(Victim),
                           "-start_epmd false -epmd_module edf_test_epmd -setcookie edf_test",
                           "-pa", filename:dirname(code:which(edf_test_epmd)),
                           "; echo remsh exited $?; sleep 600"]),
    {edf_test_tmux:start(lists:flatten(Erl)), list_to_atom(Name)}.

%% Leave through the local job control (^G q): `q().' would be evaluated
%% on the victim and stop it.
stop_client(Socket) ->
    ok = edf_test_tmux:send_keys(Socket, [7]),
    _ = edf_test_tmux:await_text(Socket, "-->"),
    edf_test_tmux:keys(Socket, "q"),
    _ = edf_test_tmux:await_text(Socket, "remsh exited"),
    ok.

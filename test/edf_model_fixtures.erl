%% @doc Test data for the DPI suites: control messages (and payloads) per
%% traffic class of SPEC §10.3, including every §5.2 rule with near misses
%% and the 1.29 sensitive shapes. Expected outcomes are not stored here: the
%% model (`edf_model_classify') computes them; `expect/1' only names what a
%% fixture is meant to exercise, for test diagnostics and the self-check.
-module(edf_model_fixtures).

-export([classes/0]).
-export([class/1]).
-export([all/0]).
-export([pid/2]).
-export([ref/2]).
-export([big/0]).
-export([sender/0]).

-define(SENDER, 'edf_sender@127.0.0.1').
-define(RECEIVER, 'edf_receiver@127.0.0.1').

-type fixture() :: {Name :: atom(), Expect :: match | miss | any, edf_model_encode:msg()}.
-export_type([fixture/0]).

-spec sender() -> node().
sender() -> ?SENDER.

-spec classes() -> [atom()].
classes() ->
    [exit, exit2, group_leader, link, monitor_related, send_to_alias, send_to_name,
     send_to_pid, spawn_reply, spawn_request, unlink, structural_shapes].

-spec all() -> [{atom(), fixture()}].
all() -> [{C, F} || C <- classes(), F <- class(C)].

%% A pid / reference of a given node, built from their external encoding.
-spec pid(node(), non_neg_integer()) -> pid().
pid(Node, Id) ->
    T = atom_to_binary(Node, utf8),
    binary_to_term(<<131, 88, 119, (byte_size(T)), T/binary, Id:32, 0:32, 7:32>>).

-spec ref(node(), non_neg_integer()) -> reference().
ref(Node, Id) ->
    T = atom_to_binary(Node, utf8),
    binary_to_term(<<131, 90, 3:16, 119, (byte_size(T)), T/binary, 7:32, Id:32, 1:32, 2:32>>).

from() -> pid(?SENDER, 101).
from2() -> pid(?SENDER, 102).
to() -> pid(?RECEIVER, 201).
alias_ref() -> ref(?RECEIVER, 301).
mref() -> ref(?SENDER, 401).
token() -> {0, edf_label, 5, from(), 0}.

%% A payload part large enough to need several fragments of 127 bytes, with
%% atoms that go through the cache.
-spec big() -> term().
big() ->
    {big, [list_to_atom("edf_big_" ++ integer_to_list(I)) || I <- lists:seq(1, 12)],
     binary:copy(<<"0123456789">>, 30)}.

-spec class(atom()) -> [fixture()].
class(exit) ->
    [{exit, any, {{3, from(), to(), normal}}},
     {exit_big_reason, any, {{3, from(), to(), {shutdown, big()}}}},
     {exit_tt, any, {{13, from(), to(), token(), killed}}},
     {payload_exit, any, {{24, from(), to()}, normal}},
     {payload_exit_big, any, {{24, from(), to()}, {shutdown, big()}}},
     {payload_exit_tt, any, {{25, from(), to(), token()}, {error, badarg}}}];
class(exit2) ->
    [{exit2, any, {{8, from(), to(), kill}}},
     {exit2_tt, any, {{18, from(), to(), token(), normal}}},
     {payload_exit2, any, {{26, from(), to()}, shutdown}},
     {payload_exit2_big, any, {{26, from(), to()}, {shutdown, big()}}},
     {payload_exit2_tt, any, {{27, from(), to(), token()}, kill}},
     {altact_exit, any, {{37, 16, from(), to()}, kill}},
     {altact_exit_prio, any, {{37, 16 bor 1, from(), to()}, kill}},
     {altact_exit_alias, any, {{37, 16 bor 4, from(), alias_ref()}, kill}},
     {altact_exit_name, any, {{37, 16 bor 8, from(), to()}, kill}},
     {altact_exit_token, any, {{37, 16 bor 2, from(), to(), token()}, kill}},
     {altact_exit_all, any, {{37, 16 bor 8 bor 4 bor 2 bor 1, from(), alias_ref(), token()}, big()}}];
class(group_leader) ->
    [{group_leader, any, {{7, from(), to()}}},
     {group_leader_2, any, {{7, from2(), to()}}}];
class(link) ->
    [{link, any, {{1, from(), to()}}},
     {link_2, any, {{1, from2(), to()}}}];
class(monitor_related) ->
    [{monitor_p_pid, any, {{19, from(), to(), mref()}}},
     {monitor_p_name, any, {{19, from(), some_server, mref()}}},
     {demonitor_p, any, {{20, from(), to(), mref()}}},
     {monitor_p_exit, any, {{21, to(), from(), mref(), normal}}},
     {payload_monitor_p_exit, any, {{28, to(), from(), mref()}, noproc}},
     {payload_monitor_p_exit_big, any, {{28, to(), from(), mref()}, {shutdown, big()}}}];
class(send_to_alias) ->
    [{alias_send, miss, {{33, from(), alias_ref()}, hello}},
     {alias_send_system, match, {{33, from(), alias_ref()}, {system, from(), get_state}}},
     {alias_send_big, miss, {{33, from(), alias_ref()}, {reply, big()}}},
     {alias_send_tt, miss, {{34, from(), alias_ref(), token()}, hello}},
     {alias_send_tt_exit, match, {{34, from(), alias_ref(), token()}, {'EXIT', from(), big()}}},
     {altact_alias, miss, {{37, 4, from(), alias_ref()}, hello}},
     {altact_alias_prio, match, {{37, 4 bor 1, from(), alias_ref()}, {io_reply, mref(), ok}}},
     {altact_alias_token, miss, {{37, 4 bor 2, from(), alias_ref(), token()}, {ok, big()}}}];
class(send_to_name) ->
    Reg = fun(Name, P) -> {{6, from(), '', Name}, P} end,
    RegTT = fun(Name, P) -> {{16, from(), '', Name, token()}, P} end,
    Call = {'$gen_call', {from(), mref()}, {is_auth, ?SENDER}},
    [{net_kernel_is_auth, miss, Reg(net_kernel, Call)},
     {net_kernel_is_auth_near, match, Reg(net_kernel, {'$gen_call', {from(), mref()}, {is_auth, a, b}})},
     {net_kernel_other, match, Reg(net_kernel, {'$gen_call', {from(), mref()}, which_nodes})},
     {net_kernel_tt_is_auth, miss, RegTT(net_kernel, Call)},
     {rex_features_request, miss, Reg(rex, {from(), features_request})},
     {rex_features_reply, miss, Reg(rex, {features_reply, ?SENDER, [erpc]})},
     {rex_call, match, Reg(rex, {call, erlang, halt, [], from()})},
     {rex_near, match, Reg(rex, {from(), features_request, x})},
     {timer_server_blocked, match, Reg(timer_server, hello)},
     {global_name_server_blocked, match, RegTT(global_name_server, {hello, big()})},
     {benign_name, miss, Reg(my_server, hello)},
     {benign_name_big, miss, Reg(my_server, {data, big()})},
     {benign_name_gen_call, miss, Reg(my_server, {'$gen_call', {from(), mref()}, ping})},
     {benign_name_system, match, Reg(my_server, {system, {from(), mref()}, get_status})},
     {benign_name_tt_cast, match, RegTT(my_server, {'$gen_cast', {try_again_restart, big()}})},
     {altact_name, miss, {{37, 8, from(), my_server}, hello}},
     {altact_name_blocked, match, {{37, 8, from(), code_server}, hello}},
     {altact_name_net_kernel, miss, {{37, 8 bor 1, from(), net_kernel}, Call}},
     {altact_name_rex_bad, match, {{37, 8 bor 2, from(), rex, token()}, {call, m, f, []}}},
     {altact_name_alias, miss, {{37, 8 bor 4, from(), my_server}, hello}}];
class(send_to_pid) ->
    Send = fun(P) -> {{2, '', to()}, P} end,
    [{send, miss, Send(hello)},
     {send_big, miss, Send({data, big()})},
     {send_exit, match, Send({'EXIT', from(), normal})},
     {send_tt, miss, {{12, '', to(), token()}, hello}},
     {send_tt_system, match, {{12, '', to(), token()}, {system, from(), big()}}},
     {send_sender, miss, {{22, from(), to()}, hello}},
     {send_sender_io_request, match, {{22, from(), to()}, {io_request, from(), mref(), {put_chars, unicode, "hi"}}}},
     {send_sender_tt, miss, {{23, from(), to(), token()}, {data, big()}}},
     {send_sender_tt_io_reply, match, {{23, from(), to(), token()}, {io_reply, mref(), ok}}},
     {altact_pid, miss, {{37, 0, from(), to()}, hello}},
     {altact_pid_prio, miss, {{37, 1, from(), to()}, hello}},
     {altact_pid_token, match, {{37, 2, from(), to(), token()}, {system, a, b}}}];
class(spawn_reply) ->
    [{spawn_reply_pid, any, {{31, mref(), to(), 0, from()}}},
     {spawn_reply_failed, any, {{31, mref(), to(), 3, system_limit}}},
     {spawn_reply_tt, any, {{32, mref(), to(), 1, from(), token()}}}];
class(spawn_request) ->
    [{spawn_request, any, {{29, mref(), from(), from2(), {erlang, apply, 2}, []}, [fun erlang:abs/1, [1]]}},
     {spawn_request_opts, any, {{29, mref(), from(), from2(), {erpc, execute_call, 4}, [link, monitor]},
                                [mref(), erlang, halt, [1]]}},
     {spawn_request_big, any, {{29, mref(), from(), from2(), {m, f, 1}, [{priority, high}]}, [big()]}},
     {spawn_request_tt, any, {{30, mref(), from(), from2(), {io, format, 2}, [], token()}, ["~p~n", [x]]}}];
class(unlink) ->
    [{unlink, any, {{4, from(), to()}}},
     {unlink_id, any, {{35, 17, from(), to()}}},
     {unlink_id_ack, any, {{36, 1 bsl 40, from(), to()}}}];
class(structural_shapes) ->
    [{Name, Expect, {{2, '', to()}, P}} || {Name, Expect, P} <- shapes()].

shapes() ->
    F = from(),
    R = mref(),
    Fun = fun(X) -> {X, F} end,
    [{system, match, {system, {F, R}, get_state}},
     {system_empty, match, {system, [], []}},
     {system_near_2, miss, {system, []}},
     {system_near_4, miss, {system, [], [], []}},
     {exit, match, {'EXIT', [], []}},
     {exit_near, miss, {'EXIT', []}},
     {try_again_restart, match, {'$gen_cast', {try_again_restart, []}}},
     {try_again_restart_near, miss, {'$gen_cast', {try_again_restart, [], []}}},
     {gen_cast_other, miss, {'$gen_cast', {other, []}}},
     {gen_call_any, miss, {'$gen_call', [], []}},
     {is_auth_elsewhere, miss, {'$gen_call', [], {is_auth, []}}},
     {features_request_elsewhere, miss, {[], features_request}},
     {features_reply_elsewhere, miss, {features_reply, [], []}},
     {start_child, match, {'$gen_call', [], {start_child, []}}},
     {terminate_child, match, {'$gen_call', {F, R}, {terminate_child, x}}},
     {restart_child, match, {'$gen_call', {F, R}, {restart_child, x}}},
     {delete_child, match, {'$gen_call', {F, R}, {delete_child, x}}},
     {start_child_near, miss, {'$gen_call', [], {start_child, [], []}}},
     {which_children, miss, {'$gen_call', [], which_children}},
     {io_request, match, {io_request, F, R, {get_line, ''}}},
     {io_request_near, miss, {io_request, F, R}},
     {io_reply, match, {io_reply, R, eof}},
     {io_reply_near, miss, {io_reply, R, eof, x}},
     %% 1.29 sensitive shapes
     {pool_spawn, match, {'$gen_call', {F, R}, {spawn, F, erlang, halt, []}}},
     {pool_spawn_string, match, {'$gen_call', {F, R}, {spawn, F, io, format, "abc"}}},
     {pool_spawn_improper, match, {'$gen_call', {F, R}, {spawn, F, io, format, [a | b]}}},
     {pool_spawn_near_pid, miss, {'$gen_call', {F, R}, {spawn, notpid, erlang, halt, []}}},
     {pool_spawn_near_mod, miss, {'$gen_call', {F, R}, {spawn, F, "erlang", halt, []}}},
     {pool_spawn_near_fun, miss, {'$gen_call', {F, R}, {spawn, F, erlang, 1, []}}},
     {pool_spawn_near_args, miss, {'$gen_call', {F, R}, {spawn, F, erlang, halt, x}}},
     {pool_spawn_near_arity, miss, {'$gen_call', {F, R}, {spawn, F, erlang, halt}}},
     {apply_once, match, {'$gen_call', {F, R}, {apply_once, {1, 2, {erlang, halt, []}}}}},
     {apply_once_bigint, match, {'$gen_call', {F, R}, {apply_once, {1 bsl 40, -70000, {erlang, halt, [1]}}}}},
     {apply_once_near_int, miss, {'$gen_call', {F, R}, {apply_once, {1.0, 2, {erlang, halt, []}}}}},
     {apply_once_near_mfa, miss, {'$gen_call', {F, R}, {apply_once, {1, 2, {erlang, halt, x}}}}},
     {apply_once_near_shape, miss, {'$gen_call', {F, R}, {apply_once, {1, 2, {erlang, halt}}}}},
     {apply_interval, match, {'$gen_call', {F, R}, {apply_interval, {1, 2, F, {erlang, halt, []}}}}},
     {apply_repeatedly, match, {'$gen_call', {F, R}, {apply_repeatedly, {1, 2, x, {os, cmd, ["ls"]}}}}},
     {apply_interval_near_int, miss, {'$gen_call', {F, R}, {apply_interval, {a, 2, F, {erlang, halt, []}}}}},
     {apply_interval_near_mfa, miss, {'$gen_call', {F, R}, {apply_repeatedly, {1, 2, F, {erlang, 3, []}}}}},
     {apply_after_other, miss, {'$gen_call', {F, R}, {apply_after, {1, 2, F, {erlang, halt, []}}}}},
     {dict_insert_export, match, {'$gen_call', {F, R}, {dict_insert, {filter, collector}, fun erlang:abs/1}}},
     {dict_insert_fun, match, {'$gen_call', {F, R}, {dict_insert, {filter, collector}, Fun}}},
     {dict_insert_near_fun, miss, {'$gen_call', {F, R}, {dict_insert, {filter, collector}, abs}}},
     {dict_insert_near_name, miss, {'$gen_call', {F, R}, {dict_insert, {filter, "collector"}, Fun}}},
     {dict_insert_near_tag, miss, {'$gen_call', {F, R}, {dict_insert, {other, collector}, Fun}}},
     {cover_load_compiled, match, {remote, load_compiled, [{m, <<"beam">>}]}},
     {cover_near, miss, {remote, load_compiled}},
     {cover_other, miss, {remote, compile, x}},
     {eunit_job, match, {command, F, {start, {job, F, test, [1, 2]}}}},
     {eunit_job_nil, match, {command, F, {start, {job, F, test, []}}}},
     {eunit_job_near_pid, miss, {command, self, {start, {job, F, test, []}}}},
     {eunit_job_near_pid2, miss, {command, F, {start, {job, F, test, x}}}},
     {eunit_job_near_list, miss, {command, F, {start, {job, 1, test, []}}}},
     {eunit_near_start, miss, {command, F, {stop, {job, F, test, []}}}},
     {big_benign, miss, {data, big()}},
     {big_system, match, {system, big(), big()}}].

%%% @doc Built-in hints for redirected distribution operations (SPEC §5.4,
%%% extended).
%%%
%%% A hint is `drop' (known dangerous), `safe' (known harmless protocol
%%% traffic) or `unsafe' (anything else). The handler worker computes one
%%% for every redirected message and passes it to the user's
%%% `classify/3,4'; with no handler module, `drop' means drop and the other
%%% two mean keep.
%%%
%%% Beyond the C NIF's Erlang hints, these also give `drop' for:
%%% <ul>
%%% <li>sends to a registered name on the OTP name blocklist, when the
%%%     `otp_name_blocklist' switch is on;</li>
%%% <li>the "sensitive OTP shapes" the NIF learnt in 1.29 (pool spawn,
%%%     timer apply, et_collector filter, cover load, eunit job);</li>
%%% <li>sends addressed to a router (`erldist_filter_router_N');</li>
%%% <li>sends to the pid of a protected process ({@link
%%%     erldist_filter_protected}): its name's hint; for one without a
%%%     name, anything but a gen reply;</li>
%%% <li>NAME-flagged ALTACT_SIG_SEND messages, which follow the rules of
%%%     REG_SEND instead of crashing;</li>
%%% <li>any control message that is not expected to be redirected.</li>
%%% </ul>
-module(erldist_filter_hint).

-include("udist.hrl").

-export([hint/2]).
-export([hint/3]).
-export([payload_hint/1]).
-export([is_router_name/1]).
-export([is_blocked_name/1]).

-export_type([hint/0]).

-type hint() :: drop | safe | unsafe.

%% @doc Hint for a redirected control message without payload. Only
%% EXIT2-like and GROUP_LEADER operations are redirected without payload;
%% both are `drop'. Anything else is unexpected and also `drop'.
-spec hint(Sysname :: node(), Control :: udist:dop_without_payload()) -> hint().
hint(_Sysname, _Control) ->
    drop.

%% @doc Hint for a redirected control message with payload.
-spec hint(Sysname :: node(), Control :: udist:dop_with_payload(), Payload :: term()) -> hint().
hint(_Sysname, Control, _Payload) when ?is_udist_dop_exit2_t(Control) ->
    drop;
hint(_Sysname, Control, Payload) when ?is_udist_dop_send_to_alias_t(Control) ->
    payload_hint(Payload);
hint(Sysname, Control, Payload) when ?is_udist_dop_send_to_pid_t(Control) ->
    %% A protected process's pid gets its name's hint (issue 16); one
    %% without a name takes only gen replies.
    case erldist_filter_protected:lookup(to_pid(Control)) of
        {named, Name} -> name_hint(Sysname, Name, Payload);
        unnamed -> unnamed_hint(Payload);
        unprotected -> payload_hint(Payload)
    end;
hint(Sysname, Control, Payload) when ?is_udist_dop_send_to_name_t(Control) ->
    name_hint(Sysname, to_name(Control), Payload);
hint(_Sysname, _Control, _Payload) ->
    drop.

%% @doc The generic payload rules: `drop' for payloads that drive OTP
%% behaviours or I/O from afar, `unsafe' otherwise.
-spec payload_hint(Payload :: term()) -> drop | unsafe.
payload_hint({system, _, _}) -> drop;
payload_hint({'EXIT', _, _}) -> drop;
payload_hint({'$gen_cast', {try_again_restart, _}}) -> drop;
payload_hint({'$gen_call', _, {Op, _}})
  when Op =:= start_child; Op =:= terminate_child; Op =:= restart_child; Op =:= delete_child ->
    drop;
payload_hint({io_request, _, _, _}) -> drop;
payload_hint({io_reply, _, _}) -> drop;
%% code_server: load, purge, ... (refused whoever it is sent to)
payload_hint({code_call, _, _}) -> drop;
%% pool: spawn on behalf of the caller
payload_hint({'$gen_call', _, {spawn, Pid, M, F, A}})
  when is_pid(Pid), is_atom(M), is_atom(F), is_list(A) ->
    drop;
%% timer server: apply later
payload_hint({'$gen_call', _, {apply_once, {T1, T2, {M, F, A}}}})
  when is_integer(T1), is_integer(T2), is_atom(M), is_atom(F), is_list(A) ->
    drop;
payload_hint({'$gen_call', _, {Op, {T1, T2, _, {M, F, A}}}})
  when (Op =:= apply_interval orelse Op =:= apply_repeatedly),
       is_integer(T1), is_integer(T2), is_atom(M), is_atom(F), is_list(A) ->
    drop;
%% et_collector: install a filter fun
payload_hint({'$gen_call', _, {dict_insert, {filter, Name}, Fun}})
  when is_atom(Name), is_function(Fun) ->
    drop;
%% cover: load compiled code
payload_hint({remote, load_compiled, _}) -> drop;
%% eunit: start a job
payload_hint({command, Pid1, {start, {job, Pid2, _, List}}})
  when is_pid(Pid1), is_pid(Pid2), is_list(List) ->
    drop;
payload_hint(_) ->
    unsafe.

%% @doc Whether `Name' is one of this node's router names.
-spec is_router_name(term()) -> boolean().
is_router_name(Name) when is_atom(Name) ->
    #{names := Names} = erldist_filter_nif:router_info(),
    lists:member(Name, Names);
is_router_name(_) ->
    false.

%% @doc Whether `Name' is blocked by the OTP name blocklist right now: the
%% `otp_name_blocklist' switch is on and the NIF lists the name.
-spec is_blocked_name(term()) -> boolean().
is_blocked_name(Name) when is_atom(Name) ->
    erldist_filter_nif:config_get(otp_name_blocklist) =:= true
        andalso erlang:function_exported(erldist_filter_nif, otp_name_is_blocked, 1)
        andalso erldist_filter_nif:otp_name_is_blocked(Name) =:= true;
is_blocked_name(_) ->
    false.

%%% Internal

to_pid(#udist_dop_altact_sig_send{to = Pid}) -> Pid;
to_pid(Control) -> element(3, Control).

unnamed_hint({Ref, _Reply}) when is_reference(Ref) -> unsafe;
unnamed_hint({[alias | Ref], _Reply}) when is_reference(Ref) -> unsafe;
unnamed_hint(_Payload) -> drop.

to_name(#udist_dop_reg_send{to_name = Name}) -> Name;
to_name(#udist_dop_reg_send_tt{to_name = Name}) -> Name;
to_name(#udist_dop_altact_sig_send{to = Name}) -> Name.

name_hint(_Sysname, Name, _Payload) when not is_atom(Name) ->
    drop;
name_hint(Sysname, net_kernel, Payload) ->
    case Payload of
        {'$gen_call', _, {is_auth, Sysname}} -> safe;
        _ -> drop
    end;
name_hint(Sysname, rex, Payload) ->
    case Payload of
        {_, features_request} -> safe;
        {features_reply, Sysname, Features} when is_list(Features) -> safe;
        _ -> drop
    end;
name_hint(_Sysname, Name, Payload) ->
    case is_router_name(Name) orelse is_blocked_name(Name) of
        true -> drop;
        false -> payload_hint(Payload)
    end.

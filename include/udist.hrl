%%% Records for decoded distribution control messages ("udist" = user-level
%%% dist). Each record is the raw control tuple with its integer DOP code
%%% replaced by the record name, except `udist_dop_altact_sig_send', whose
%%% optional trace token becomes `none | {some, Token}'. Convert with
%%% `udist:cast_to_dop/1' and back with `udist:cast_to_raw_dop/1'.
%%%
%%% The `is_udist_dop_*_t/1' macros are guards over these records.
-ifndef(UDIST_HRL).
-define(UDIST_HRL, 1).

-include("erldist_filter_erts_dist.hrl").

-record(udist_dop_link, {from_pid :: term(), to_pid :: term()}).
-record(udist_dop_send, {unused :: term(), to_pid :: term()}).
-record(udist_dop_exit, {from_pid :: term(), to_pid :: term(), reason :: term()}).
-record(udist_dop_unlink, {from_pid :: term(), to_pid :: term()}).
-record(udist_dop_reg_send, {from_pid :: term(), unused :: term(), to_name :: term()}).
-record(udist_dop_group_leader, {from_pid :: term(), to_pid :: term()}).
-record(udist_dop_exit2, {from_pid :: term(), to_pid :: term(), reason :: term()}).
-record(udist_dop_send_tt, {unused :: term(), to_pid :: term(), trace_token :: term()}).
-record(udist_dop_exit_tt, {from_pid :: term(), to_pid :: term(), trace_token :: term(), reason :: term()}).
-record(udist_dop_reg_send_tt, {from_pid :: term(), unused :: term(), to_name :: term(), trace_token :: term()}).
-record(udist_dop_exit2_tt, {from_pid :: term(), to_pid :: term(), trace_token :: term(), reason :: term()}).
-record(udist_dop_monitor_p, {from_pid :: term(), to_proc :: term(), ref :: term()}).
-record(udist_dop_demonitor_p, {from_pid :: term(), to_proc :: term(), ref :: term()}).
-record(udist_dop_monitor_p_exit, {from_proc :: term(), to_pid :: term(), ref :: term(), reason :: term()}).
-record(udist_dop_send_sender, {from_pid :: term(), to_pid :: term()}).
-record(udist_dop_send_sender_tt, {from_pid :: term(), to_pid :: term(), trace_token :: term()}).
-record(udist_dop_payload_exit, {from_pid :: term(), to_pid :: term()}).
-record(udist_dop_payload_exit_tt, {from_pid :: term(), to_pid :: term(), trace_token :: term()}).
-record(udist_dop_payload_exit2, {from_pid :: term(), to_pid :: term()}).
-record(udist_dop_payload_exit2_tt, {from_pid :: term(), to_pid :: term(), trace_token :: term()}).
-record(udist_dop_payload_monitor_p_exit, {from_proc :: term(), to_pid :: term(), ref :: term()}).
-record(udist_dop_spawn_request, {req_id :: term(), from :: term(), group_leader :: term(), mfa :: term(), opt_list :: term()}).
-record(udist_dop_spawn_request_tt, {req_id :: term(), from :: term(), group_leader :: term(), mfa :: term(), opt_list :: term(), token :: term()}).
-record(udist_dop_spawn_reply, {req_id :: term(), to :: term(), flags :: term(), result :: term()}).
-record(udist_dop_spawn_reply_tt, {req_id :: term(), to :: term(), flags :: term(), result :: term(), token :: term()}).
-record(udist_dop_alias_send, {from_pid :: term(), alias :: term()}).
-record(udist_dop_alias_send_tt, {from_pid :: term(), alias :: term(), token :: term()}).
-record(udist_dop_unlink_id, {id :: term(), from_pid :: term(), to_pid :: term()}).
-record(udist_dop_unlink_id_ack, {id :: term(), from_pid :: term(), to_pid :: term()}).
-record(udist_dop_altact_sig_send, {flags :: term(), sender_pid :: term(), to :: term(), token = none :: none | {some, term()}}).

%% Altact flag tests (true only for an altact record with integer flags).
-define(is_udist_altact_flag_set(T, Flag),
        (is_record(T, udist_dop_altact_sig_send) andalso is_integer(element(2, T))
         andalso (element(2, T) band (Flag)) =/= 0)).
-define(is_udist_altact_flag_clear(T, Flag),
        (is_record(T, udist_dop_altact_sig_send) andalso is_integer(element(2, T))
         andalso (element(2, T) band (Flag)) =:= 0)).

%% Groups (see `udist:get_dop_group/1').
-define(is_udist_dop_exit_t(T),
        (is_record(T, udist_dop_exit) orelse is_record(T, udist_dop_exit_tt)
         orelse is_record(T, udist_dop_payload_exit) orelse is_record(T, udist_dop_payload_exit_tt))).
-define(is_udist_dop_exit2_t(T),
        (is_record(T, udist_dop_exit2) orelse is_record(T, udist_dop_exit2_tt)
         orelse is_record(T, udist_dop_payload_exit2) orelse is_record(T, udist_dop_payload_exit2_tt)
         orelse ?is_udist_altact_flag_set(T, ?ERTS_DOP_ALTACT_SIG_FLG_EXIT))).
-define(is_udist_dop_group_leader_t(T), is_record(T, udist_dop_group_leader)).
-define(is_udist_dop_link_t(T), is_record(T, udist_dop_link)).
-define(is_udist_dop_monitor_related_t(T),
        (is_record(T, udist_dop_monitor_p) orelse is_record(T, udist_dop_demonitor_p)
         orelse is_record(T, udist_dop_monitor_p_exit)
         orelse is_record(T, udist_dop_payload_monitor_p_exit))).
-define(is_udist_dop_send_to_alias_t(T),
        (is_record(T, udist_dop_alias_send) orelse is_record(T, udist_dop_alias_send_tt)
         orelse (?is_udist_altact_flag_clear(T, ?ERTS_DOP_ALTACT_SIG_FLG_EXIT)
                 andalso (element(2, T) band ?ERTS_DOP_ALTACT_SIG_FLG_ALIAS) =/= 0))).
-define(is_udist_dop_send_to_name_t(T),
        (is_record(T, udist_dop_reg_send) orelse is_record(T, udist_dop_reg_send_tt)
         orelse (?is_udist_altact_flag_clear(T, (?ERTS_DOP_ALTACT_SIG_FLG_EXIT bor ?ERTS_DOP_ALTACT_SIG_FLG_ALIAS))
                 andalso (element(2, T) band ?ERTS_DOP_ALTACT_SIG_FLG_NAME) =/= 0))).
-define(is_udist_dop_send_to_pid_t(T),
        (is_record(T, udist_dop_send) orelse is_record(T, udist_dop_send_tt)
         orelse is_record(T, udist_dop_send_sender) orelse is_record(T, udist_dop_send_sender_tt)
         orelse ?is_udist_altact_flag_clear(T, (?ERTS_DOP_ALTACT_SIG_FLG_EXIT bor ?ERTS_DOP_ALTACT_SIG_FLG_ALIAS
                                                bor ?ERTS_DOP_ALTACT_SIG_FLG_NAME)))).
-define(is_udist_dop_spawn_reply_t(T),
        (is_record(T, udist_dop_spawn_reply) orelse is_record(T, udist_dop_spawn_reply_tt))).
-define(is_udist_dop_spawn_request_t(T),
        (is_record(T, udist_dop_spawn_request) orelse is_record(T, udist_dop_spawn_request_tt))).
-define(is_udist_dop_unlink_t(T),
        (is_record(T, udist_dop_unlink) orelse is_record(T, udist_dop_unlink_id)
         orelse is_record(T, udist_dop_unlink_id_ack))).

%% Families: control messages that travel without / with a payload.
-define(is_udist_dop_without_payload_t(T),
        (is_record(T, udist_dop_demonitor_p) orelse is_record(T, udist_dop_exit)
         orelse is_record(T, udist_dop_exit2) orelse is_record(T, udist_dop_exit2_tt)
         orelse is_record(T, udist_dop_exit_tt) orelse is_record(T, udist_dop_group_leader)
         orelse is_record(T, udist_dop_link) orelse is_record(T, udist_dop_monitor_p)
         orelse is_record(T, udist_dop_monitor_p_exit) orelse is_record(T, udist_dop_spawn_reply)
         orelse is_record(T, udist_dop_spawn_reply_tt) orelse is_record(T, udist_dop_unlink)
         orelse is_record(T, udist_dop_unlink_id) orelse is_record(T, udist_dop_unlink_id_ack))).
-define(is_udist_dop_with_payload_t(T),
        (is_record(T, udist_dop_alias_send) orelse is_record(T, udist_dop_alias_send_tt)
         orelse is_record(T, udist_dop_altact_sig_send)
         orelse is_record(T, udist_dop_payload_exit) orelse is_record(T, udist_dop_payload_exit_tt)
         orelse is_record(T, udist_dop_payload_exit2) orelse is_record(T, udist_dop_payload_exit2_tt)
         orelse is_record(T, udist_dop_payload_monitor_p_exit)
         orelse is_record(T, udist_dop_reg_send) orelse is_record(T, udist_dop_reg_send_tt)
         orelse is_record(T, udist_dop_send) orelse is_record(T, udist_dop_send_tt)
         orelse is_record(T, udist_dop_send_sender) orelse is_record(T, udist_dop_send_sender_tt)
         orelse is_record(T, udist_dop_spawn_request) orelse is_record(T, udist_dop_spawn_request_tt))).
-define(is_udist_dop_t(T), (?is_udist_dop_without_payload_t(T) orelse ?is_udist_dop_with_payload_t(T))).

-endif.

%% @doc Test oracle: classification of one decoded control message (and
%% payload) per SPEC §5.1–5.3 (1.29 rules, untrusted mode, blocklist) and
%% Decision 8 (LINK, EXIT, PAYLOAD_EXIT and _TT: always log + drop).
%%
%% Works on decoded terms, not bytes, on purpose: the NIF matches shapes on
%% the encoding, this model on the values, so the two are independent.
-module(edf_model_classify).

-export([classify/3]).
-export([control_spec/1]).
-export([dop_name/1]).
-export([blocklist/0]).
-export([is_blocked/1]).
-export([is_bounded/1]).

-type action() :: emit | drop | redirect | spawn.
-type config() :: #{atom() => boolean()}.
-export_type([action/0]).

-define(ALTACT_EXIT, 16).
-define(ALTACT_NAME, 8).
-define(ALTACT_ALIAS, 4).
-define(ALTACT_TOKEN, 2).

%% @doc `{Action, Log}' for a message; `Payload' is `none' for DOPs without
%% one. Assumes deep packet inspection is on.
-spec classify(tuple(), term(), config()) -> {action(), boolean()}.
classify(Control, Payload, Config) ->
    Untrusted = maps:get(untrusted, Config, false),
    DoR = case maps:get(redirect_dist_operations, Config, false) of
              true -> redirect;
              false -> drop
          end,
    Kind = kind(Control, Payload, Untrusted, maps:get(otp_name_blocklist, Config, false)),
    case Kind of
        emit -> {emit, false};
        log_emit -> {emit, true};
        log_drop -> {drop, true};
        log_dor -> {DoR, true};
        log_spawn -> {spawn, true}
    end.

kind(C, P, Untrusted, Blocklist) ->
    case element(1, C) of
        1 -> log_drop;                                          % LINK
        3 -> log_drop;                                          % EXIT
        13 -> log_drop;                                         % EXIT_TT
        24 -> log_drop;                                         % PAYLOAD_EXIT
        25 -> log_drop;                                         % PAYLOAD_EXIT_TT
        7 -> log_dor;                                           % GROUP_LEADER
        8 -> log_dor;                                           % EXIT2
        18 -> log_dor;                                          % EXIT2_TT
        26 -> log_dor;                                          % PAYLOAD_EXIT2
        27 -> log_dor;                                          % PAYLOAD_EXIT2_TT
        29 -> log_spawn;                                        % SPAWN_REQUEST
        30 -> log_spawn;                                        % SPAWN_REQUEST_TT
        D when D =:= 4; D =:= 19; D =:= 20; D =:= 21; D =:= 28;
               D =:= 31; D =:= 32; D =:= 35; D =:= 36 ->
            case Untrusted of
                true -> log_emit;
                false -> emit
            end;
        D when D =:= 2; D =:= 12; D =:= 22; D =:= 23 ->
            send(Untrusted, fun() -> generic(P) end);
        D when D =:= 33; D =:= 34 ->                            % ALIAS_SEND(_TT)
            send(Untrusted, fun() -> to_alias(P, Blocklist) end);
        D when D =:= 6; D =:= 16 ->
            send(Untrusted, fun() -> by_name(element(4, C), P, Blocklist) end);
        37 ->
            Flags = element(2, C),
            if
                Flags band ?ALTACT_EXIT =/= 0 -> log_dor;
                Flags band ?ALTACT_NAME =/= 0 ->
                    send(Untrusted, fun() -> by_name(element(4, C), P, Blocklist) end);
                Flags band ?ALTACT_ALIAS =/= 0 ->
                    send(Untrusted, fun() -> to_alias(P, Blocklist) end);
                true ->
                    send(Untrusted, fun() -> generic(P) end)
            end
    end.

send(true, _) -> log_dor;
send(false, Rules) -> Rules().

by_name(net_kernel, P, _) ->
    case P of
        {'$gen_call', _, {is_auth, _}} -> emit;
        _ -> log_dor
    end;
by_name(rex, P, _) ->
    case P of
        {_, features_request} -> emit;
        {features_reply, _, _} -> emit;
        _ -> log_dor
    end;
by_name(Name, P, Blocklist) ->
    %% Bounded names (pg) are not blocked, but with the blocklist on every
    %% message to them is the policy's (it bounds their size and shape).
    case Blocklist andalso (is_blocked(Name) orelse is_bounded(Name)) of
        true -> log_dor;
        false -> generic(P)
    end.

%% A gen request to an alias (with the blocklist on) is the policy's: the
%% alias may be an OTP process's.
to_alias({'$gen_call', _, _}, true) -> log_dor;
to_alias({'$gen_cast', _}, true) -> log_dor;
to_alias(P, _Blocklist) -> generic(P).

generic(P) ->
    case sensitive(P) of
        true -> log_dor;
        false -> emit
    end.

sensitive({system, _, _}) -> true;
sensitive({'EXIT', _, _}) -> true;
sensitive({'$gen_cast', {try_again_restart, _}}) -> true;
sensitive({'$gen_call', _, {Op, _}})
  when Op =:= start_child; Op =:= terminate_child; Op =:= restart_child; Op =:= delete_child ->
    true;
sensitive({io_request, _, _, _}) -> true;
sensitive({io_reply, _, _}) -> true;
sensitive({code_call, _, _}) -> true;
%% 1.29 sensitive OTP shapes
sensitive({'$gen_call', _, {spawn, Pid, M, F, A}})
  when is_pid(Pid), is_atom(M), is_atom(F), is_list(A) ->
    true;
sensitive({'$gen_call', _, {apply_once, {I1, I2, {M, F, A}}}})
  when is_integer(I1), is_integer(I2), is_atom(M), is_atom(F), is_list(A) ->
    true;
sensitive({'$gen_call', _, {Op, {I1, I2, _, {M, F, A}}}})
  when (Op =:= apply_interval orelse Op =:= apply_repeatedly),
       is_integer(I1), is_integer(I2), is_atom(M), is_atom(F), is_list(A) ->
    true;
sensitive({'$gen_call', _, {dict_insert, {filter, Name}, Fun}})
  when is_atom(Name), is_function(Fun) ->
    true;
sensitive({remote, load_compiled, _}) -> true;
sensitive({command, P1, {start, {job, P2, _, L}}})
  when is_pid(P1), is_pid(P2), is_list(L) ->
    true;
sensitive(_) -> false.

%% @doc `{Arity, TokenPosition | none, HasPayload}' of a control tuple
%% (0-based token position), per SPEC §5.1.
-spec control_spec(tuple()) -> {pos_integer(), non_neg_integer() | none, boolean()}.
control_spec(C) ->
    case element(1, C) of
        1 -> {3, none, false};
        2 -> {3, none, true};
        3 -> {4, none, false};
        4 -> {3, none, false};
        6 -> {4, none, true};
        7 -> {3, none, false};
        8 -> {4, none, false};
        12 -> {4, 3, true};
        13 -> {5, 3, false};
        16 -> {5, 4, true};
        18 -> {5, 3, false};
        19 -> {4, none, false};
        20 -> {4, none, false};
        21 -> {5, none, false};
        22 -> {3, none, true};
        23 -> {4, 3, true};
        24 -> {3, none, true};
        25 -> {4, 3, true};
        26 -> {3, none, true};
        27 -> {4, 3, true};
        28 -> {4, none, true};
        29 -> {6, none, true};
        30 -> {7, 6, true};
        31 -> {5, none, false};
        32 -> {6, 5, false};
        33 -> {3, none, true};
        34 -> {4, 3, true};
        35 -> {4, none, false};
        36 -> {4, none, false};
        37 when tuple_size(C) =:= 5 -> {5, 4, true};
        37 -> {4, none, true}
    end.

-spec dop_name(1..37) -> atom().
dop_name(D) ->
    element(D, {dop_link, dop_send, dop_exit, dop_unlink, undefined, dop_reg_send,
                dop_group_leader, dop_exit2, undefined, undefined, undefined,
                dop_send_tt, dop_exit_tt, undefined, undefined, dop_reg_send_tt,
                undefined, dop_exit2_tt, dop_monitor_p, dop_demonitor_p,
                dop_monitor_p_exit, dop_send_sender, dop_send_sender_tt,
                dop_payload_exit, dop_payload_exit_tt, dop_payload_exit2,
                dop_payload_exit2_tt, dop_payload_monitor_p_exit, dop_spawn_request,
                dop_spawn_request_tt, dop_spawn_reply, dop_spawn_reply_tt,
                dop_alias_send, dop_alias_send_tt, dop_unlink_id, dop_unlink_id_ack,
                dop_altact_sig_send}).

%% @doc The OTP name blocklist: the NIF's if it exports one, else our copy
%% of SPEC §5.3 (201 names).
-spec blocklist() -> [atom()].
blocklist() ->
    _ = code:ensure_loaded(erldist_filter_nif),
    case erlang:function_exported(erldist_filter_nif, otp_name_blocklist, 0) of
        true -> erldist_filter_nif:otp_name_blocklist();
        false -> spec_blocklist()
    end.

%% @doc Whether `Name' is a bounded name (`blocklist::BOUNDED' in the
%% core): not blocked, always judged by the policy. Our own copy.
-spec is_bounded(term()) -> boolean().
is_bounded(Name) -> lists:member(Name, [pg]).

-spec is_blocked(term()) -> boolean().
is_blocked(Name) when is_atom(Name) -> lists:member(Name, blocklist());
is_blocked(_) -> false.

spec_blocklist() ->
    [alarm_handler, application_controller, appmon_info, asn1_driver_owner, auth,
     beam_lib__crypto_key_server, boot_server, code_server, compl_pid, cover_server,
     cpu_sup, crashdump_viewer, crashdump_viewer_server, ct_config_server,
     ct_default_gl, ct_event, ct_hooks_lock, ct_logs, ct_master, ct_master_event,
     ct_master_logs, ct_util_server, cth_log_redirect, dbg, dbg_iserver, dbg_wx_mon,
     dbg_wx_winman, dets_server, dets_sup, diameter_config, diameter_config_sup,
     diameter_dist, diameter_etcp_sup, diameter_event_logger, diameter_misc_sup,
     diameter_peer, diameter_peer_fsm_sup, diameter_reg, diameter_sctp_sup,
     diameter_service_sup, diameter_stats, diameter_sup, diameter_sync,
     diameter_tcp_sup, diameter_transport_sup, disk_log_server, disk_log_sup, disksup,
     dist_ac, drv_complete, dtls_connection_sup, dtls_connection_sup_dist,
     dtls_listener_sup, dtls_server_session_cache_sup, dtls_server_sup, dtls_sup,
     eprof, erl_compile_server, erl_epmd, erl_prim_loader, erl_signal_server,
     error_logger, erts_code_purger, et_collector, eunit_server, file_server,
     file_server_2, fprof_server, ftp_sup, global, global_group, global_group_check,
     global_name_server, group, heart, heart_port, httpc_handler_sup, httpc_manager,
     httpc_profile_sup, httpc_sup, httpd_acceptor_sup, httpd_sup, httpd_tester, inet_db,
     inet_gethost_native, inet_gethost_native_sup, inets_sup, init,
     init__boot__on_load_handler, kernel_refc, kernel_safe_sup, kernel_sup, lcnt,
     logger, logger_handler_watcher, logger_proxy, logger_server, logger_simple_h,
     logger_std_h_default, logger_sup, megaco_config, megaco_misc_sup, megaco_monitor,
     megaco_sup, megaco_trans_sup, memsup, mnesia_checkpoint_sup, mnesia_controller,
     mnesia_dumper_load_regulator, mnesia_event, mnesia_ext_sup, mnesia_fallback,
     mnesia_kernel_sup, mnesia_late_loader, mnesia_locker, mnesia_monitor,
     mnesia_recover, mnesia_rpc, mnesia_snmp_sup, mnesia_subscr, mnesia_sup, mnesia_tm,
     net_sup, nteventlog, observer, odbc_sup, os_mon_sup, os_mon_sysinfo,
     os_sup_server, peer_supervision, pool_master, rb_server, release_handler,
     rex_proxy_user, runtime_tools_sup, sasl_safe_sup, sasl_sup, shell,
     socket_registry, snmp_app_sup, snmp_ex2_manager, snmp_test_manager,
     snmp_test_mgr, snmpa_agent, snmpa_local_db, snmpa_misc_sup, snmpa_supervisor,
     snmpa_symbolic_store, snmpa_target_cache, snmpm_config, snmpm_misc_sup,
     snmpm_server, snmpm_server_cbproxy, snmpm_server_nis, snmpm_server_sup,
     snmpm_supervisor, ssh_dbg, ssh_lsocket_sup, ssh_sup, ssl_admin_sup,
     ssl_connection_sup, ssl_dist_admin_sup, ssl_dist_connection_sup, ssl_dist_sup,
     ssl_listen_tracker_sup, ssl_listen_tracker_sup_dist, ssl_manager,
     ssl_manager_dist, ssl_pem_cache, ssl_pem_cache_dist,
     ssl_server_session_cache_sup, ssl_sup, ssl_trace, ssl_unknown_listener,
     ssl_upgrade_server_session_cache_sup,
     ssl_upgrade_server_session_cache_sup_dist, standard_error, standard_error_sup,
     standard_error_writer, system_information, test_server_ctrl, test_server_io,
     test_server_sup, tftp_sup, timer_server, tls_client_ticket_store,
     tls_connection_sup, tls_dist_connection_sup, tls_dist_server_sup, tls_dist_sup,
     tls_server_session_ticket_sup, tls_server_session_ticket_sup_dist,
     tls_server_sup, tls_sup, tprof, ttb, user, user_drv, user_drv_reader,
     user_drv_writer, wxe_master].

//! The OTP registered names a remote node has no business messaging
//! (SPEC §5.3: 186 names of 1.28 plus the 15 of 1.29). Sorted, so a lookup
//! is a binary search; compared by atom text.

/// Every blocked name, sorted.
pub const NAMES: [&str; 201] = [
    "alarm_handler", "application_controller", "appmon_info", "asn1_driver_owner", "auth",
    "beam_lib__crypto_key_server", "boot_server", "code_server", "compl_pid", "cover_server",
    "cpu_sup", "crashdump_viewer", "crashdump_viewer_server", "ct_config_server", "ct_default_gl",
    "ct_event", "ct_hooks_lock", "ct_logs", "ct_master", "ct_master_event", "ct_master_logs",
    "ct_util_server", "cth_log_redirect", "dbg", "dbg_iserver", "dbg_wx_mon", "dbg_wx_winman",
    "dets_server", "dets_sup", "diameter_config", "diameter_config_sup", "diameter_dist",
    "diameter_etcp_sup", "diameter_event_logger", "diameter_misc_sup", "diameter_peer",
    "diameter_peer_fsm_sup", "diameter_reg", "diameter_sctp_sup", "diameter_service_sup",
    "diameter_stats", "diameter_sup", "diameter_sync", "diameter_tcp_sup",
    "diameter_transport_sup", "disk_log_server", "disk_log_sup", "disksup", "dist_ac",
    "drv_complete", "dtls_connection_sup", "dtls_connection_sup_dist", "dtls_listener_sup",
    "dtls_server_session_cache_sup", "dtls_server_sup", "dtls_sup", "eprof", "erl_compile_server",
    "erl_epmd", "erl_prim_loader", "erl_signal_server", "error_logger", "erts_code_purger",
    "et_collector", "eunit_server", "file_server", "file_server_2", "fprof_server", "ftp_sup",
    "global", "global_group", "global_group_check", "global_name_server", "group", "heart",
    "heart_port", "httpc_handler_sup", "httpc_manager", "httpc_profile_sup", "httpc_sup",
    "httpd_acceptor_sup", "httpd_sup", "httpd_tester", "inet_db", "inet_gethost_native",
    "inet_gethost_native_sup", "inets_sup", "init", "init__boot__on_load_handler", "kernel_refc",
    "kernel_safe_sup", "kernel_sup", "lcnt", "logger", "logger_handler_watcher", "logger_proxy",
    "logger_server", "logger_simple_h", "logger_std_h_default", "logger_sup", "megaco_config",
    "megaco_misc_sup", "megaco_monitor", "megaco_sup", "megaco_trans_sup", "memsup",
    "mnesia_checkpoint_sup", "mnesia_controller", "mnesia_dumper_load_regulator", "mnesia_event",
    "mnesia_ext_sup", "mnesia_fallback", "mnesia_kernel_sup", "mnesia_late_loader",
    "mnesia_locker", "mnesia_monitor", "mnesia_recover", "mnesia_rpc", "mnesia_snmp_sup",
    "mnesia_subscr", "mnesia_sup", "mnesia_tm", "net_sup", "nteventlog", "observer", "odbc_sup",
    "os_mon_sup", "os_mon_sysinfo", "os_sup_server", "peer_supervision", "pool_master",
    "rb_server", "release_handler", "rex_proxy_user", "runtime_tools_sup", "sasl_safe_sup",
    "sasl_sup", "shell", "snmp_app_sup", "snmp_ex2_manager", "snmp_test_manager", "snmp_test_mgr",
    "snmpa_agent", "snmpa_local_db", "snmpa_misc_sup", "snmpa_supervisor", "snmpa_symbolic_store",
    "snmpa_target_cache", "snmpm_config", "snmpm_misc_sup", "snmpm_server",
    "snmpm_server_cbproxy", "snmpm_server_nis", "snmpm_server_sup", "snmpm_supervisor",
    "socket_registry", "ssh_dbg", "ssh_lsocket_sup", "ssh_sup", "ssl_admin_sup",
    "ssl_connection_sup", "ssl_dist_admin_sup", "ssl_dist_connection_sup", "ssl_dist_sup",
    "ssl_listen_tracker_sup", "ssl_listen_tracker_sup_dist", "ssl_manager", "ssl_manager_dist",
    "ssl_pem_cache", "ssl_pem_cache_dist", "ssl_server_session_cache_sup", "ssl_sup", "ssl_trace",
    "ssl_unknown_listener", "ssl_upgrade_server_session_cache_sup",
    "ssl_upgrade_server_session_cache_sup_dist", "standard_error", "standard_error_sup",
    "standard_error_writer", "system_information", "test_server_ctrl", "test_server_io",
    "test_server_sup", "tftp_sup", "timer_server", "tls_client_ticket_store",
    "tls_connection_sup", "tls_dist_connection_sup", "tls_dist_server_sup", "tls_dist_sup",
    "tls_server_session_ticket_sup", "tls_server_session_ticket_sup_dist", "tls_server_sup",
    "tls_sup", "tprof", "ttb", "user", "user_drv", "user_drv_reader", "user_drv_writer",
    "wxe_master",
];

/// Whether the atom with UTF-8 text `name` is blocked.
pub fn is_blocked(name: &[u8]) -> bool {
    NAMES.binary_search_by(|n| n.as_bytes().cmp(name)).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sorted_complete_and_without_net_kernel_or_rex() {
        assert!(super::NAMES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(super::NAMES.len(), 201);
        assert!(super::is_blocked(b"code_server") && super::is_blocked(b"wxe_master"));
        assert!(!super::is_blocked(b"net_kernel") && !super::is_blocked(b"rex"));
    }
}

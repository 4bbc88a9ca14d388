%%% Constants of the Erlang distribution protocol as ERTS uses them:
%%% distribution operation codes (`?DOP_*'), distribution flags
%%% (`?DFLAG_*'), spawn request flags (`?ERTS_DIST_SPAWN_FLAG_*') and
%%% alternative-action signal flags (`?ERTS_DOP_ALTACT_SIG_FLG_*').
%%%
%%% Values come from the published protocol (ERTS User's Guide,
%%% "Distribution Protocol"). The composite `?DFLAG_DIST_*' sets are the
%%% ones of OTP 25, the release this project runs on;
%%% `erldist_filter_nif:distribution_flags/0' reports the running VM's.
-ifndef(ERLDIST_FILTER_ERTS_DIST_HRL).
-define(ERLDIST_FILTER_ERTS_DIST_HRL, 1).

%% Distribution operations (first element of a control message).
-define(DOP_LINK, 1).
-define(DOP_SEND, 2).
-define(DOP_EXIT, 3).
-define(DOP_UNLINK, 4).
-define(DOP_REG_SEND, 6).
-define(DOP_GROUP_LEADER, 7).
-define(DOP_EXIT2, 8).
-define(DOP_SEND_TT, 12).
-define(DOP_EXIT_TT, 13).
-define(DOP_REG_SEND_TT, 16).
-define(DOP_EXIT2_TT, 18).
-define(DOP_MONITOR_P, 19).
-define(DOP_DEMONITOR_P, 20).
-define(DOP_MONITOR_P_EXIT, 21).
-define(DOP_SEND_SENDER, 22).
-define(DOP_SEND_SENDER_TT, 23).
-define(DOP_PAYLOAD_EXIT, 24).
-define(DOP_PAYLOAD_EXIT_TT, 25).
-define(DOP_PAYLOAD_EXIT2, 26).
-define(DOP_PAYLOAD_EXIT2_TT, 27).
-define(DOP_PAYLOAD_MONITOR_P_EXIT, 28).
-define(DOP_SPAWN_REQUEST, 29).
-define(DOP_SPAWN_REQUEST_TT, 30).
-define(DOP_SPAWN_REPLY, 31).
-define(DOP_SPAWN_REPLY_TT, 32).
-define(DOP_ALIAS_SEND, 33).
-define(DOP_ALIAS_SEND_TT, 34).
-define(DOP_UNLINK_ID, 35).
-define(DOP_UNLINK_ID_ACK, 36).
-define(DOP_ALTACT_SIG_SEND, 37).

%% Single distribution flags.
-define(DFLAG_PUBLISHED, 16#01).
-define(DFLAG_ATOM_CACHE, 16#02).
-define(DFLAG_EXTENDED_REFERENCES, 16#04).
-define(DFLAG_DIST_MONITOR, 16#08).
-define(DFLAG_FUN_TAGS, 16#10).
-define(DFLAG_DIST_MONITOR_NAME, 16#20).
-define(DFLAG_HIDDEN_ATOM_CACHE, 16#40).
-define(DFLAG_NEW_FUN_TAGS, 16#80).
-define(DFLAG_EXTENDED_PIDS_PORTS, 16#100).
-define(DFLAG_EXPORT_PTR_TAG, 16#200).
-define(DFLAG_BIT_BINARIES, 16#400).
-define(DFLAG_NEW_FLOATS, 16#800).
-define(DFLAG_UNICODE_IO, 16#1000).
-define(DFLAG_DIST_HDR_ATOM_CACHE, 16#2000).
-define(DFLAG_SMALL_ATOM_TAGS, 16#4000).
-define(DFLAG_ETS_COMPRESSED, 16#8000).
-define(DFLAG_UTF8_ATOMS, 16#10000).
-define(DFLAG_MAP_TAG, 16#20000).
-define(DFLAG_BIG_CREATION, 16#40000).
-define(DFLAG_SEND_SENDER, 16#80000).
-define(DFLAG_BIG_SEQTRACE_LABELS, 16#100000).
-define(DFLAG_PENDING_CONNECT, 16#200000).
-define(DFLAG_EXIT_PAYLOAD, 16#400000).
-define(DFLAG_FRAGMENTS, 16#800000).
-define(DFLAG_HANDSHAKE_23, 16#1000000).
-define(DFLAG_UNLINK_ID, 16#2000000).
-define(DFLAG_MANDATORY_25_DIGEST, 16#4000000).
-define(DFLAG_RESERVED, 16#f8000000).
-define(DFLAG_SPAWN, (16#01 bsl 32)).
-define(DFLAG_NAME_ME, (16#02 bsl 32)).
-define(DFLAG_V4_NC, (16#04 bsl 32)).
-define(DFLAG_ALIAS, (16#08 bsl 32)).
-define(DFLAG_LOCAL_EXT, (16#10 bsl 32)).
-define(DFLAG_ALTACT_SIG, (16#20 bsl 32)).
-define(DFLAG_NATIVE_RECORDS, (16#40 bsl 32)).

%% Composite sets (OTP 25 values; see `erts_internal:get_dflags/0').
-define(DFLAG_DIST_MANDATORY_25,
        (?DFLAG_EXTENDED_REFERENCES bor ?DFLAG_FUN_TAGS bor ?DFLAG_EXTENDED_PIDS_PORTS
         bor ?DFLAG_UTF8_ATOMS bor ?DFLAG_NEW_FUN_TAGS bor ?DFLAG_BIG_CREATION
         bor ?DFLAG_NEW_FLOATS bor ?DFLAG_MAP_TAG bor ?DFLAG_EXPORT_PTR_TAG
         bor ?DFLAG_BIT_BINARIES bor ?DFLAG_HANDSHAKE_23)).
-define(DFLAG_DIST_MANDATORY_26,
        (?DFLAG_DIST_MANDATORY_25 bor ?DFLAG_V4_NC bor ?DFLAG_UNLINK_ID)).
-define(DFLAG_DIST_MANDATORY, ?DFLAG_DIST_MANDATORY_25).
-define(DFLAG_DIST_DEFAULT, 16#D07DF7FBC).
-define(DFLAG_DIST_ADDABLE, 16#D07DF7FBC).
-define(DFLAG_DIST_REJECTABLE, 16#802042).
-define(DFLAG_DIST_STRICT_ORDER, ?DFLAG_DIST_HDR_ATOM_CACHE).

%% SPAWN_REQUEST flags.
-define(ERTS_DIST_SPAWN_FLAG_LINK, 16#01).
-define(ERTS_DIST_SPAWN_FLAG_MONITOR, 16#02).

%% ALTACT_SIG_SEND flags (OTP 28+ peers only).
-define(ERTS_DOP_ALTACT_SIG_FLG_PRIO, 16#01).
-define(ERTS_DOP_ALTACT_SIG_FLG_TOKEN, 16#02).
-define(ERTS_DOP_ALTACT_SIG_FLG_ALIAS, 16#04).
-define(ERTS_DOP_ALTACT_SIG_FLG_NAME, 16#08).
-define(ERTS_DOP_ALTACT_SIG_FLG_EXIT, 16#10).

-endif.

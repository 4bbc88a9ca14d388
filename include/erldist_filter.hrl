%%% Records of the decoding helpers (SPEC §1.11, §2.4).
%%%
%%% vterm: one record per tag of the external term format, as
%%% `erldist_filter_nif:dist_{ext,int}_to_vterm/2,3' return them. A vterm
%%% keeps the wire encoding (which tag, lengths, sizes) that a plain term
%%% forgets; `vterm:simplify/1' turns it into the term, `vterm:expand/1' a
%%% term into the vterm OTP 25's `term_to_binary/1' would write.
%%%
%%% Field conventions:
%%% <ul>
%%% <li>`len': the length field on the wire (bytes for atoms, strings and
%%%     binaries; elements for lists; ids for references).</li>
%%% <li>`name' of an atom record: the atom itself.</li>
%%% <li>Atoms inside pids, ports, references, funs and exports (`node',
%%%     `module', `function') are atom vterms, so their encoding and any
%%%     cache reference show.</li>
%%% <li>Binaries (`data', `digits', `characters', `slice') are sub-binaries of
%%%     the decoded input: keep them and you keep the input.</li>
%%% <li>Bignum `digits' are the little-endian magnitude; `sign' is 0 or 1.</li>
%%% </ul>
%%%
%%% vdist: one `vdist_dop_*' record per distribution operation, fields named
%%% as in `udist.hrl' and holding vterms; the altact record's `token' is
%%% `none' or `{some, VTerm}'.
-ifndef(ERLDIST_FILTER_HRL).
-define(ERLDIST_FILTER_HRL, 1).

%% Integers and floats
-record(vterm_small_integer_ext, {value :: 0..255}).
-record(vterm_integer_ext, {value :: -16#80000000..16#7fffffff}).
-record(vterm_small_big_ext, {n :: 0..255, sign :: 0..255, digits :: binary()}).
-record(vterm_large_big_ext, {n :: non_neg_integer(), sign :: 0..255, digits :: binary()}).
%% FLOAT_EXT (old 31-byte text form; `value' is the parsed float).
-record(vterm_float_ext, {value :: float()}).
-record(vterm_new_float_ext, {value :: float()}).

%% Atoms
-record(vterm_atom_ext, {len :: non_neg_integer(), name :: atom()}).
-record(vterm_small_atom_ext, {len :: 0..255, name :: atom()}).
-record(vterm_atom_utf8_ext, {len :: non_neg_integer(), name :: atom()}).
-record(vterm_small_atom_utf8_ext, {len :: 0..255, name :: atom()}).
%% ATOM_CACHE_REF as such (never produced by the NIF, which resolves).
-record(vterm_atom_cache_ref, {index :: 0..255}).
%% ATOM_CACHE_REF resolved through the atoms tuple: `term' is the atom.
-record(vterm_atom_cache_ref_resolved, {index :: 0..255, term :: atom()}).

%% Pids, ports, references (`node' is an atom vterm)
-record(vterm_pid_ext, {node :: term(), id :: non_neg_integer(), serial :: non_neg_integer(), creation :: 0..255}).
-record(vterm_new_pid_ext, {node :: term(), id :: non_neg_integer(), serial :: non_neg_integer(), creation :: non_neg_integer()}).
-record(vterm_port_ext, {node :: term(), id :: non_neg_integer(), creation :: 0..255}).
-record(vterm_new_port_ext, {node :: term(), id :: non_neg_integer(), creation :: non_neg_integer()}).
-record(vterm_v4_port_ext, {node :: term(), id :: non_neg_integer(), creation :: non_neg_integer()}).
-record(vterm_reference_ext, {node :: term(), id :: non_neg_integer(), creation :: 0..255}).
-record(vterm_new_reference_ext, {len :: 0..5, node :: term(), creation :: 0..255, ids :: [non_neg_integer()]}).
-record(vterm_newer_reference_ext, {len :: 0..5, node :: term(), creation :: non_neg_integer(), ids :: [non_neg_integer()]}).

%% Compounds (`elements', `tail', pair keys and values are vterms)
-record(vterm_small_tuple_ext, {arity :: 0..255, elements :: [term()]}).
-record(vterm_large_tuple_ext, {arity :: non_neg_integer(), elements :: [term()]}).
-record(vterm_nil_ext, {}).
-record(vterm_string_ext, {len :: 0..65535, characters :: binary()}).
-record(vterm_list_ext, {len :: non_neg_integer(), elements :: [term()], tail :: term()}).
-record(vterm_map_ext, {arity :: non_neg_integer(), pairs :: [{term(), term()}]}).
-record(vterm_binary_ext, {len :: non_neg_integer(), data :: binary()}).
-record(vterm_bit_binary_ext, {len :: non_neg_integer(), bits :: 0..8, data :: binary()}).

%% Funs: `module' an atom vterm, `old_index'/`old_uniq' integer vterms,
%% `pid' a pid vterm, `free_vars' vterms; `uniq' the 16-byte MD5.
-record(vterm_new_fun_ext, {size :: non_neg_integer(), arity :: 0..255, uniq :: binary(),
                            index :: non_neg_integer(), num_free :: non_neg_integer(),
                            module :: term(), old_index :: term(), old_uniq :: term(),
                            pid :: term(), free_vars :: [term()]}).
%% `arity' is an integer vterm.
-record(vterm_export_ext, {module :: term(), function :: term(), arity :: term()}).
%% RECORD_EXT (OTP 29 native records; decoded for parity, no term on OTP 25).
-record(vterm_record_ext, {num_fields :: non_neg_integer(), exported :: boolean(),
                           module :: term(), name :: term(), fields :: [{term(), term()}]}).

%% Not from a tag
%% A compound left undecoded by a lazy limit: its bytes (internal encoding).
-record(vterm_lazy_term, {slice :: binary()}).
%% A term carried as is.
-record(vterm_nif_term, {term :: term()}).
%% The "no value" marker (never a real term).
-record(vterm_the_non_value, {}).

%% vdist: control messages, fields as in udist.hrl
-record(vdist_dop_link, {from_pid :: term(), to_pid :: term()}).
-record(vdist_dop_send, {unused :: term(), to_pid :: term()}).
-record(vdist_dop_exit, {from_pid :: term(), to_pid :: term(), reason :: term()}).
-record(vdist_dop_unlink, {from_pid :: term(), to_pid :: term()}).
-record(vdist_dop_reg_send, {from_pid :: term(), unused :: term(), to_name :: term()}).
-record(vdist_dop_group_leader, {from_pid :: term(), to_pid :: term()}).
-record(vdist_dop_exit2, {from_pid :: term(), to_pid :: term(), reason :: term()}).
-record(vdist_dop_send_tt, {unused :: term(), to_pid :: term(), trace_token :: term()}).
-record(vdist_dop_exit_tt, {from_pid :: term(), to_pid :: term(), trace_token :: term(), reason :: term()}).
-record(vdist_dop_reg_send_tt, {from_pid :: term(), unused :: term(), to_name :: term(), trace_token :: term()}).
-record(vdist_dop_exit2_tt, {from_pid :: term(), to_pid :: term(), trace_token :: term(), reason :: term()}).
-record(vdist_dop_monitor_p, {from_pid :: term(), to_proc :: term(), ref :: term()}).
-record(vdist_dop_demonitor_p, {from_pid :: term(), to_proc :: term(), ref :: term()}).
-record(vdist_dop_monitor_p_exit, {from_proc :: term(), to_pid :: term(), ref :: term(), reason :: term()}).
-record(vdist_dop_send_sender, {from_pid :: term(), to_pid :: term()}).
-record(vdist_dop_send_sender_tt, {from_pid :: term(), to_pid :: term(), trace_token :: term()}).
-record(vdist_dop_payload_exit, {from_pid :: term(), to_pid :: term()}).
-record(vdist_dop_payload_exit_tt, {from_pid :: term(), to_pid :: term(), trace_token :: term()}).
-record(vdist_dop_payload_exit2, {from_pid :: term(), to_pid :: term()}).
-record(vdist_dop_payload_exit2_tt, {from_pid :: term(), to_pid :: term(), trace_token :: term()}).
-record(vdist_dop_payload_monitor_p_exit, {from_proc :: term(), to_pid :: term(), ref :: term()}).
-record(vdist_dop_spawn_request, {req_id :: term(), from :: term(), group_leader :: term(), mfa :: term(), opt_list :: term()}).
-record(vdist_dop_spawn_request_tt, {req_id :: term(), from :: term(), group_leader :: term(), mfa :: term(), opt_list :: term(), token :: term()}).
-record(vdist_dop_spawn_reply, {req_id :: term(), to :: term(), flags :: term(), result :: term()}).
-record(vdist_dop_spawn_reply_tt, {req_id :: term(), to :: term(), flags :: term(), result :: term(), token :: term()}).
-record(vdist_dop_alias_send, {from_pid :: term(), alias :: term()}).
-record(vdist_dop_alias_send_tt, {from_pid :: term(), alias :: term(), token :: term()}).
-record(vdist_dop_unlink_id, {id :: term(), from_pid :: term(), to_pid :: term()}).
-record(vdist_dop_unlink_id_ack, {id :: term(), from_pid :: term(), to_pid :: term()}).
-record(vdist_dop_altact_sig_send, {flags :: term(), sender_pid :: term(), to :: term(), token = none :: none | {some, term()}}).

-endif.

%% @doc The erldist_filter NIF (Rust, `native/erldist_filter_nif'): channels
%% that filter one inbound distribution connection each, global switches and
%% limits, statistics, flags and router names.
%%
%% == Error conventions ==
%% <ul>
%% <li>A wrong argument (type or value) raises plain `error:badarg'.</li>
%% <li>`{error, closed}' is returned for a closed channel, `{error,
%%     not_owner}' when the caller is not the channel's controlling process
%%     (recv, close and set_* are owner-only; inspect and list are not).</li>
%% <li>Traffic that breaks the protocol or a limit raises
%%     `error:{erldist_filter, Kind, #{offset := non_neg_integer(),
%%     limit := boolean(), message := binary()}}' from `channel_recv/2'.
%%     `Kind' is an atom such as `frame_too_short', `bad_magic',
%%     `unknown_dop' or, for limits (`limit => true'), the limit's name
%%     (`max_packet_len', ...). The channel is closed before the exception
%%     is raised: later calls return `{error, closed}'. Bugs in the filter
%%     use the kinds `internal_panic', `internal_no_progress' and
%%     `internal_bad_emit' and close the channel the same way; the VM is
%%     never affected.</li>
%% <li>With packet size 0 each `channel_recv/2' call is one whole frame
%%     (the binaries of a list are concatenated); an empty input is a tick
%%     (the C NIF counted `[<<>>]' as nothing).</li>
%% </ul>
%%
%% == Scheduling ==
%% No dirty schedulers on the common path. A `channel_recv/2' step that may
%% finish a message over 1 MiB (a large packet being assembled, a held
%% fragmented message, or an input over 1 MiB) runs on a dirty CPU
%% scheduler; so do the decoding helpers (`dist_*_to_term/vterm/vdist',
%% debug and test oracles) for inputs of 8 KiB or more. `channel_recv/2' is
%% an Erlang loop over `channel_recv_nif/2', which does a bounded slice
%% of work (about 20000 units, roughly bytes scanned) per call, charges it with
%% `enif_consume_timeslice' and returns `{more, Actions, Rest}' when input
%% is left, or when frames are still owed: a held message re-emitted as its
%% fragments costs 16 units a frame, so 2^20 tiny fragments take many
%% slices (`Rest' may then be `[]', which continues; it is not a tick).
%% The channel lock is never held between slices.
%%
%% == Lifecycle ==
%% The process that opens a channel controls it (it is monitored); when it
%% exits the channel is destroyed and leaves `channel_list/0'.
-module(erldist_filter_nif).

-on_load(init/0).

-include_lib("kernel/include/logger.hrl").

%% Channels
-export([channel_open/5]).
-export([channel_close/1]).
-export([channel_recv/2]).
-export([channel_recv_nif/2]).
-export([channel_recv_dirty_nif/2]).
-export([channel_inspect/1]).
-export([channel_check_frame/2]).
-export([channel_list/0]).
-export([channel_list/1]).
-export([channel_set_controlling_process/2]).
-export([channel_set_tracing_process/2]).
%% Configuration and limits
-export([config_get/0]).
-export([config_get/1]).
-export([config_set/1]).
-export([config_set/2]).
-export([limits_get/0]).
-export([limits_get/1]).
-export([limits_set/1]).
-export([limits_set/2]).
%% Statistics, flags, misc
-export([world_stats_get/0]).
-export([world_stats_get_nif/0]).
-export([distribution_flags/0]).
-export([spawn_flags/0]).
-export([altact_sig_flags/0]).
-export([version/0]).
-export([router_info/0]).
-export([router_name/1]).
-export([otp_name_blocklist/0]).
-export([otp_name_is_blocked/1]).
-export([defaults/0]).
-export([protected_set/3]).
-export([protected_count/0]).
%% Logger
-export([logger_open/0]).
-export([logger_close/1]).
-export([logger_recv/1]).
-export([logger_inspect/1]).
-export([logger_list/0]).
-export([logger_set_capacity/1]).
-export([logger_set_controlling_process/2]).
%% Decoding helpers (debug / test oracles)
-export([dist_ext_to_term/2]).
-export([dist_ext_to_vterm/2]).
-export([dist_ext_to_vterm/3]).
-export([dist_int_to_vterm/2]).
-export([dist_int_to_vterm/3]).
-export([dist_ext_to_vdist/2]).
-export([dist_int_to_vdist/2]).
-export([dist_decode_nif/4]).
-export([dist_decode_dirty_nif/4]).

-export_type([channel/0]).
-export_type([logger/0]).
-export_type([log_event/0]).
-export_type([action/0]).
-export_type([config_key/0]).
-export_type([limit_key/0]).

-opaque channel() :: reference().
-type action() :: {emit, binary()}.
-type packet_size() :: 0 | 1 | 2 | 4 | 8.
-type config_key() :: compact_fragments | deep_packet_inspection | logging
                    | otp_name_blocklist | redirect_dist_operations | untrusted.
-type limit_key() :: max_packet_len | max_fragments | max_sequences
                   | max_buffered_bytes | max_atom_bytes | max_message_bytes | max_log_bytes
                   | max_bytes_per_sec | max_messages_per_sec | rate_policy
                   | max_new_atoms | max_new_atoms_total | atom_policy.
-type limit_value() :: non_neg_integer() | close | drop.
-type soft_error() :: {error, closed | not_owner}.

-type logger() :: reference().
-type log_event() :: {integer(), {node(), tuple(), binary(), binary() | undefined}}.

-define(NIF_STUB, erlang:nif_error({nif_not_loaded, ?MODULE})).

-spec init() -> ok | {error, term()}.
init() ->
    case erlang:load_nif(erldist_filter_nif_library:path(), #{schedulers => erlang:system_info(schedulers)}) of
        ok ->
            remember_defaults(),
            lists:foreach(fun apply_setting/1, erldist_filter_env:settings());
        Error ->
            Error
    end.

%% The NIF's own values, before the environment touches them: what a key
%% returns to once the environment no longer sets it (erldist_filter_config).
%% The capacity has no getter; setting it returns the old one.
remember_defaults() ->
    Capacity = logger_set_capacity(0),
    _ = logger_set_capacity(Capacity),
    persistent_term:put({?MODULE, defaults},
                        #{config => config_get(), limits => limits_get(),
                          logger_capacity => Capacity}).

%% @private The switches, limits and logger capacity the NIF had when it
%% loaded (before the application environment was applied).
-spec defaults() -> #{config := #{config_key() => boolean()},
                      limits := #{limit_key() => limit_value()},
                      logger_capacity := non_neg_integer()}.
defaults() ->
    persistent_term:get({?MODULE, defaults}).

%% Local calls only: the module is still loading.
apply_setting(Setting) ->
    try
        case Setting of
            {config, K, V} -> config_set(K, V);
            {limits, K, V} -> limits_set(K, V);
            {logger_capacity, N} -> logger_set_capacity(N);
            {handler, M} when is_atom(M) -> erldist_filter:handler_set(M)
        end
    catch
        error:badarg ->
            ?LOG_ERROR(#{what => bad_app_env, setting => Setting}, #{domain => [erldist_filter]})
    end.

%%--------------------------------------------------------------------
%% Channels
%%--------------------------------------------------------------------

%% @doc Open a channel for one inbound connection. `PacketSize' is the
%% length-prefix size (0 = each recv is one whole frame), `Sysname' the peer
%% node, `Creation' and `ConnectionId' 32-bit unsigned integers, `DFlags' the
%% negotiated flags (must share a bit with OTP 25's mandatory set). The
%% caller becomes the controlling process. Bad arguments raise `badarg'.
-spec channel_open(packet_size(), node(), non_neg_integer(), non_neg_integer(), non_neg_integer()) ->
    channel().
channel_open(_PacketSize, _Sysname, _Creation, _ConnectionId, _DFlags) ->
    ?NIF_STUB.

%% @doc Destroy the channel (owner only).
-spec channel_close(channel()) -> ok | soft_error().
channel_close(_Channel) ->
    ?NIF_STUB.

%% @doc Feed bytes read from the connection (a binary or a list of
%% binaries); returns the frames to pass to `erlang:dist_ctrl_put_data/2',
%% in order. Frames lying inside one input binary are sub-binaries of it.
-spec channel_recv(channel(), binary() | [binary()]) -> [action()] | soft_error().
channel_recv(Channel, Input) ->
    recv_loop(Channel, Input, []).

recv_loop(Channel, Input, Acc) ->
    recv_result(Channel, channel_recv_nif(Channel, Input), Acc).

recv_result(Channel, Result, Acc) ->
    case Result of
        Actions when is_list(Actions), Acc =:= [] ->
            Actions;
        Actions when is_list(Actions) ->
            lists:append(lists:reverse(Acc, [Actions]));
        {more, Actions, Rest} ->
            recv_loop(Channel, Rest, [Actions | Acc]);
        {dirty, Rest} ->
            %% The next step may finish a message over 1 MiB: do it where
            %% a long step cannot stall a normal scheduler.
            recv_result(Channel, channel_recv_dirty_nif(Channel, Rest), Acc);
        {error, _} = Error ->
            Error
    end.

%% @private One bounded slice of `channel_recv/2', or `{dirty, Input}'
%% when the step may finish a message over 1 MiB.
-spec channel_recv_nif(channel(), binary() | [binary()]) ->
    [action()] | {more, [action()], [binary()]} | {dirty, binary() | [binary()]} | soft_error().
channel_recv_nif(_Channel, _Input) ->
    ?NIF_STUB.

%% @private `channel_recv_nif/2' on a dirty CPU scheduler, without a budget.
-spec channel_recv_dirty_nif(channel(), binary() | [binary()]) ->
    [action()] | {more, [action()], [binary()]} | soft_error().
channel_recv_dirty_nif(_Channel, _Input) ->
    ?NIF_STUB.

%% @doc The channel's state and counters (any process).
-spec channel_inspect(channel()) -> map() | {error, closed}.
channel_inspect(_Channel) ->
    ?NIF_STUB.

%% @doc Whether `Frame', a whole-message frame the channel emitted last,
%% reads cleanly to its last byte as the VM reads it (control element
%% types, payload terms), whatever the inspection switches; against the
%% atom cache as it is now. Fragments are not checked. The carrier uses it
%% to say why the VM closed a connection after a frame it let through.
%% Owner only; changes nothing.
-spec channel_check_frame(channel(), binary()) ->
    ok | {error, {erldist_filter, atom(), map()}} | soft_error().
channel_check_frame(_Channel, _Frame) ->
    ?NIF_STUB.

%% @doc Open channels, oldest first.
-spec channel_list() -> [channel()].
channel_list() ->
    ?NIF_STUB.

%% @doc Open channels for peer `Sysname', oldest first.
-spec channel_list(node()) -> [channel()].
channel_list(_Sysname) ->
    ?NIF_STUB.

%% @doc Hand the channel to another live local process (owner only).
-spec channel_set_controlling_process(channel(), pid()) -> ok | soft_error().
channel_set_controlling_process(_Channel, _Pid) ->
    ?NIF_STUB.

%% @doc Record (and monitor) a tracing process (owner only); shown by
%% `channel_inspect/1' as `tracing_process'.
-spec channel_set_tracing_process(channel(), pid()) -> ok | soft_error().
channel_set_tracing_process(_Channel, _Pid) ->
    ?NIF_STUB.

%%--------------------------------------------------------------------
%% Configuration and limits
%%--------------------------------------------------------------------

%% @doc Every switch and its value (all `false' by default).
-spec config_get() -> #{config_key() => boolean()}.
config_get() ->
    ?NIF_STUB.

%% @doc One switch.
-spec config_get(config_key()) -> boolean().
config_get(_Key) ->
    ?NIF_STUB.

%% @doc Apply each pair in turn; raises `badarg' on the first bad one
%% (earlier pairs stay applied). Pairs are applied in key order.
-spec config_set(#{config_key() => boolean()}) -> ok.
config_set(Map) when is_map(Map) ->
    lists:foreach(fun({K, V}) -> ok = config_set(K, V) end, lists:sort(maps:to_list(Map)));
config_set(_) ->
    erlang:error(badarg).

%% @doc Set one switch; it applies from the next message of every channel.
-spec config_set(config_key(), boolean()) -> ok.
config_set(_Key, _Value) ->
    ?NIF_STUB.

%% @doc Every limit and its value (see the README's "Limits" table).
-spec limits_get() -> #{limit_key() => limit_value()}.
limits_get() ->
    ?NIF_STUB.

%% @doc One limit.
-spec limits_get(limit_key()) -> limit_value().
limits_get(_Key) ->
    ?NIF_STUB.

%% @doc Like `config_set/1', for limits.
-spec limits_set(#{limit_key() => limit_value()}) -> ok.
limits_set(Map) when is_map(Map) ->
    lists:foreach(fun({K, V}) -> ok = limits_set(K, V) end, lists:sort(maps:to_list(Map)));
limits_set(_) ->
    erlang:error(badarg).

%% @doc Set one limit; it applies to every channel from its next input.
-spec limits_set(limit_key(), limit_value()) -> ok.
limits_set(_Key, _Value) ->
    ?NIF_STUB.

%%--------------------------------------------------------------------
%% Statistics, flags, misc
%%--------------------------------------------------------------------

%% @doc What the filter saw on every channel, open and closed: channel
%% counts, summed `rx_stats' (per operation: seen, emit, drop, redirect,
%% log), memory counters, and the spawn-budget hits
%% (`erldist_filter_budget:stats/0').
-spec world_stats_get() -> #{channel := #{create := non_neg_integer(),
                                          destroy := non_neg_integer(),
                                          rx_stats := map()},
                             memory := #{atom() => non_neg_integer()},
                             slots := non_neg_integer(),
                             spawn_budget := #{atom() => non_neg_integer()}}.
world_stats_get() ->
    (world_stats_get_nif())#{spawn_budget => spawn_budget_stats()}.

%% Spawn-budget hits are counted in Erlang (erldist_filter_budget).
spawn_budget_stats() ->
    try erldist_filter_budget:stats()
    catch _:_ -> #{}
    end.

%% @private The NIF's part of `world_stats_get/0'.
-spec world_stats_get_nif() -> map().
world_stats_get_nif() ->
    ?NIF_STUB.

%% @doc The distribution flags the filter knows, by name.
-spec distribution_flags() -> #{atom() => non_neg_integer()}.
distribution_flags() ->
    ?NIF_STUB.

%% @doc The spawn-request flags, by name.
-spec spawn_flags() -> #{atom() => non_neg_integer()}.
spawn_flags() ->
    ?NIF_STUB.

%% @doc The ALTACT_SIG_SEND flags, by name.
-spec altact_sig_flags() -> #{atom() => non_neg_integer()}.
altact_sig_flags() ->
    ?NIF_STUB.

%% @doc The NIF's API version.
-spec version() -> non_neg_integer().
version() ->
    ?NIF_STUB.

%% @doc How many routers redirected operations are spread over, and their names.
-spec router_info() -> #{count := pos_integer(), limit := 1024, names := [atom()]}.
router_info() ->
    ?NIF_STUB.

%% @doc The router (`erldist_filter_router_N') that receives the
%% redirected operations of node `Sysname'.
-spec router_name(node()) -> atom().
router_name(_Sysname) ->
    ?NIF_STUB.

-spec otp_name_blocklist() -> [atom()].
%% @doc The OTP registered names remote nodes may not message when the
%% `otp_name_blocklist' switch is on (SPEC §5.3, 201 names).
otp_name_blocklist() ->
    ?NIF_STUB.

-spec otp_name_is_blocked(term()) -> boolean().
%% @doc Whether `Name' is in the blocklist (false for non-atoms).
otp_name_is_blocked(_Name) ->
    ?NIF_STUB.

-spec protected_set(node(), non_neg_integer(),
                    [{non_neg_integer(), non_neg_integer(), atom()}]) -> ok.
%% @doc Replace the node's protected processes (see
%% `erldist_filter_protected'): `{Id, Serial, Name | undefined}' per
%% local pid, `Id' and `Serial' as in the pid's external format. Sends to
%% these pids are judged as sends to their names.
protected_set(_Node, _Creation, _Pids) ->
    ?NIF_STUB.

-spec protected_count() -> non_neg_integer().
%% @doc How many pids the current protected set holds.
protected_count() ->
    ?NIF_STUB.

%%%-------------------------------------------------------------------
%%% Logger: one global bounded queue of logged messages (SPEC §6.1).
%%%-------------------------------------------------------------------

-spec logger_open() -> logger().
%% @doc Open a logger handle owned by the caller.
logger_open() ->
    ?NIF_STUB.

-spec logger_close(logger()) -> ok | soft_error().
%% @doc Close a logger handle (owner only).
logger_close(_Logger) ->
    ?NIF_STUB.

-spec logger_recv(logger()) -> {non_neg_integer(), non_neg_integer(), [log_event()]} | {select, reference()} | soft_error().
%% @doc Take the queued events (at most 20000 per call) with the number of
%% events dropped since the last take. When there is nothing, returns
%% `{select, Ref}' and the owner later receives the message
%% {'$logger', Logger, select, Ref} once events arrive.
logger_recv(_Logger) ->
    ?NIF_STUB.

-spec logger_inspect(logger()) -> #{controlling_process := pid(), dropped := non_neg_integer(), received := non_neg_integer()} | {error, closed}.
%% @doc The logger's owner and counters.
logger_inspect(_Logger) ->
    ?NIF_STUB.

-spec logger_list() -> [logger()].
%% @doc Open loggers, oldest first.
logger_list() ->
    ?NIF_STUB.

-spec logger_set_capacity(non_neg_integer()) -> non_neg_integer().
%% @doc Set the queue capacity (0 = unbounded); returns the old one.
logger_set_capacity(_Capacity) ->
    ?NIF_STUB.

-spec logger_set_controlling_process(logger(), pid()) -> ok | soft_error().
%% @doc Hand the logger to another local, live process (owner only).
logger_set_controlling_process(_Logger, _Pid) ->
    ?NIF_STUB.

%%%-------------------------------------------------------------------
%%% Decoding helpers (SPEC §2.4): debug and test oracles, never on the
%%% data path. Records in `include/erldist_filter.hrl'.
%%%
%%% Scheduling: inputs below ?DECODE_DIRTY_THRESHOLD (8 KiB) are decoded by
%%% `dist_decode_nif/4' on the calling (normal) scheduler, which charges
%%% its time slice in proportion to the size; larger inputs go to
%%% `dist_decode_dirty_nif/4', the same code on a dirty CPU scheduler, so
%%% a 10 MB term never holds a normal scheduler.
%%%-------------------------------------------------------------------

-define(DECODE_DIRTY_THRESHOLD, 8192).

-type atoms_tuple() :: tuple().
-type decode_mode() :: ext_term | ext_vterm | int_vterm | ext_vdist | int_vdist.
-type lazy_limit() :: -1 | non_neg_integer().

-spec dist_ext_to_term(atoms_tuple(), binary()) -> term().
%% @doc Decode an external-format binary (starting with 131) whose
%% `ATOM_CACHE_REF' indexes refer to positions in `Atoms' (at most 255
%% atoms), as `erts_debug:dist_ext_to_term/2' does. Bytes after the term
%% are ignored; any failure raises `badarg'.
dist_ext_to_term(Atoms, Bin) ->
    dist_decode(ext_term, Atoms, Bin, -1).

-spec dist_ext_to_vterm(atoms_tuple(), binary()) -> tuple().
%% @doc `dist_ext_to_vterm(Atoms, Bin, -1)'.
dist_ext_to_vterm(Atoms, Bin) ->
    dist_decode(ext_vterm, Atoms, Bin, -1).

-spec dist_ext_to_vterm(atoms_tuple(), binary(), lazy_limit()) -> tuple().
%% @doc Decode an external-format binary into the vterm record tree, cache
%% references resolved to `vterm_atom_cache_ref_resolved{index, term}'.
%% `Limit' (-1 = none): once that many terms have been decoded (pre-order,
%% leaves included), every compound term not yet started is returned as
%% `vterm_lazy_term{slice}'. Bad arguments raise `badarg'; malformed bytes
%% raise `error({erldist_filter, Kind, #{offset, limit, message}})'.
dist_ext_to_vterm(Atoms, Bin, Limit) ->
    dist_decode(ext_vterm, Atoms, Bin, Limit).

-spec dist_int_to_vterm(atoms_tuple(), binary()) -> tuple().
%% @doc `dist_int_to_vterm(Atoms, Bin, -1)'.
dist_int_to_vterm(Atoms, Bin) ->
    dist_decode(int_vterm, Atoms, Bin, -1).

-spec dist_int_to_vterm(atoms_tuple(), binary(), lazy_limit()) -> tuple().
%% @doc Like `dist_ext_to_vterm/3' for internal encoding (no 131 byte).
dist_int_to_vterm(Atoms, Bin, Limit) ->
    dist_decode(int_vterm, Atoms, Bin, Limit).

-spec dist_ext_to_vdist(atoms_tuple(), binary()) -> tuple().
%% @doc Decode an external-format control message into its `vdist_dop_*'
%% record (fields are vterms). A term that is not a valid control message
%% raises `error({erldist_filter, Kind, _})' (`unknown_dop',
%% `wrong_control_arity', `bad_control_element', ...).
dist_ext_to_vdist(Atoms, Bin) ->
    dist_decode(ext_vdist, Atoms, Bin, -1).

-spec dist_int_to_vdist(atoms_tuple(), binary()) -> tuple().
%% @doc Like `dist_ext_to_vdist/2' for internal encoding (no 131 byte).
dist_int_to_vdist(Atoms, Bin) ->
    dist_decode(int_vdist, Atoms, Bin, -1).

dist_decode(Mode, Atoms, Bin, Limit) when is_binary(Bin), byte_size(Bin) >= ?DECODE_DIRTY_THRESHOLD ->
    dist_decode_dirty_nif(Mode, Atoms, Bin, Limit);
dist_decode(Mode, Atoms, Bin, Limit) ->
    dist_decode_nif(Mode, Atoms, Bin, Limit).

-spec dist_decode_nif(decode_mode(), atoms_tuple(), binary(), lazy_limit()) -> term().
%% @private The decoders on a normal scheduler (small inputs).
dist_decode_nif(_Mode, _Atoms, _Bin, _Limit) ->
    ?NIF_STUB.

-spec dist_decode_dirty_nif(decode_mode(), atoms_tuple(), binary(), lazy_limit()) -> term().
%% @private The decoders on a dirty CPU scheduler (large inputs).
dist_decode_dirty_nif(_Mode, _Atoms, _Bin, _Limit) ->
    ?NIF_STUB.

%%% @doc The shipped safe policy: a handler (`erldist_filter_handler'
%%% behaviour) that refuses what a connected node could use to run code,
%%% stop, or take over this node, and lets OTP's own traffic and ordinary
%%% application traffic through.
%%%
%%% Switched on with one line of application environment,
%%% `{erldist_filter, [{safe_policy, true}]}' (see {@link
%%% erldist_filter_env}), or by hand with
%%% `erldist_filter:handler_set(erldist_filter_policy)' plus the switches
%%% `deep_packet_inspection', `redirect_dist_operations',
%%% `otp_name_blocklist' (and, for logging, `logging').
%%%
%%% == Decisions ==
%%% <ul>
%%% <li><b>Spawn requests</b> (`erpc', `rpc', `spawn/4', `spawn_request'):
%%%   the function must be on the spawn allowlist, with its arguments
%%%   (an entry may list the values each argument may take). For `erpc:execute_call'
%%%   and `erpc:execute_cast' the function checked is the one the caller
%%%   asked for (their arguments carry it). Refused: an `erpc:call' or
%%%   `rpc:call' caller gets `exit:{exception, unauthorized}' resp.
%%%   `{badrpc, {'EXIT', unauthorized}}' (`erpc:multicall' gives
%%%   `{exit, {exception, unauthorized}}'); a cast runs nothing; a plain
%%%   remote spawn exits with reason `unauthorized' (a monitoring caller
%%%   sees that reason in its `DOWN').</li>
%%% <li><b>exit/2 signals and group-leader changes</b> from remote nodes:
%%%   refused.</li>
%%% <li><b>Sends</b> that reach the policy (the NIF redirects only the
%%%   suspicious ones: payload shapes, OTP names, `net_kernel', `rex';
%%%   with `untrusted' on, every send) are refused when they are one of the
%%%   remote-execution shapes: a `rex' call or cast of a function not on
%%%   the spawn allowlist, any supervisor `start_child' /
%%%   `terminate_child' / `restart_child' / `delete_child', an
%%%   `io_request' (to `standard_error', `user', a group leader,
%%%   anything), an `io_reply' to anything but an ordinary process (one
%%%   that is neither registered nor protected: it is the answer to an
%%%   I/O request made from here), a `code_server' request, `sys' system messages,
%%%   faked `EXIT' messages, the 1.29 sensitive shapes (timer apply, pool
%%%   spawn, cover load, ...). A send to a registered name on OTP's name
%%%   blocklist is delivered only if the name is on the name allowlist for
%%%   the sending node (default: `global_name_server' and `pg', for the
%%%   `global' and `pg' protocols), and then only when it carries no fun
%%%   (other than `global''s resolvers) and, for `global_name_server',
%%%   only the requests other nodes make; payloads to allowed names are
%%%   bounded (`name_max_bytes', `global_max_name_bytes', for `pg' only
%%%   what peer scopes send, with the peer and members on the sending
%%%   node, and for `logger_proxy' only log events whose format cannot
%%%   expand, within the node's `logger_budget'). Every message to `pg'
%%%   reaches the policy (a bounded name in the NIF). With
%%%   `strict_names' every registered name (not only OTP's) must be on
%%%   the allowlist.</li>
%%% <li><b>Sends to a pid</b> of a protected process ({@link
%%%   erldist_filter_protected}) are judged as sends to its name; one
%%%   without a name (a supervisor, an application master, a group
%%%   leader) takes only gen replies.</li>
%%% <li><b>Sends to an alias</b>: a `$gen_call' or `$gen_cast' is refused
%%%   (`request_to_alias'; the NIF sends every one to the policy): an OTP
%%%   process's alias is known to a peer while it waits for that peer's
%%%   reply. A reply tagged with the alias (`[alias | Alias]', `Alias')
%%%   is kept.</li>
%%% <li>A refused `gen_server' call is answered (when its caller is on the
%%%   sending node) so that the caller does not hang: `{badrpc, {'EXIT',
%%%   unauthorized}}' for `rex', `{error, unauthorized}' otherwise; a
%%%   refused `io_request' is answered `{error, enotsup}'
%%%   (`reply_refused', default true).</li>
%%% </ul>
%%% Every decision is logged through OTP `logger', domain
%%% `[erldist_filter]', as a report `#{what => erldist_filter_policy,
%%% node, dop, decision, reason}' (plus `to', `mfa' or `request' where
%%% known; never the payload): refusals at `warning', the rest at
%%% `notice'.
%%%
%%% == Configuration ==
%%% Application `erldist_filter', key `policy', a map (read at every
%%% decision, so a change applies at once):
%%% <ul>
%%% <li>`spawn': the spawn allowlist, `[{Module, Function, Arity}]'
%%%   (`Arity' may be `'_'') or `[{Module, Function, [ArgSpec]}]' (each
%%%   `ArgSpec' `'_'' or `{one_of, Values}'); or a map from a node name (or `'_' for every
%%%   node, or `{peer_cert, Type, Value}' for every node whose TLS
%%%   certificate has that subject attribute or alternative name, e.g.
%%%   `{peer_cert, cn, <<"ops">>}'; see {@link
%%%   erldist_filter:peer_certificate/1}) to such a list. Default {@link
%%%   default_spawn/0}.</li>
%%% <li>`rex': what `rex' may run (same shapes as `spawn'). `rex' runs it
%%%   in its own process, outside the spawn budgets, so keep it cheap.
%%%   Default {@link default_spawn/0}.</li>
%%% <li>`names': the registered names remote nodes may message, a list or
%%%   a per-node map as above. Default {@link default_names/0}.</li>
%%% <li>`name_max_bytes' (default {@link default_name_max_bytes/0}),
%%%   `global_max_name_bytes' (1024), `logger_max_depth' (64): the bounds
%%%   on what allowed names receive.</li>
%%% <li>`strict_names' (default false): apply `names' to every registered
%%%   name that reaches the policy, not only OTP's.</li>
%%% <li>`global_resolvers' (default `[global]'): modules whose funs may
%%%   travel to `global_name_server' (name-clash resolvers).</li>
%%% <li>`reply_refused' (default true).</li>
%%% <li>`logger_budget' (default {@link default_logger_budget/0}): how many
%%%   bytes of log events (external size) each node may have delivered to
%%%   `logger_proxy', a token bucket: `burst_bytes' at once, refilled at
%%%   `bytes_per_second'; an event over what is left is refused
%%%   (`logger_budget_exceeded', logged with the node's count of such
%%%   refusals). `infinity' turns it off. Each node has its own bucket, kept
%%%   by that node's handler worker.</li>
%%% </ul>
-module(erldist_filter_policy).
-behaviour(erldist_filter_handler).

-include_lib("kernel/include/logger.hrl").
-include("udist.hrl").

%% erldist_filter_handler
-export([classify/3]).
-export([classify/4]).
-export([spawn_request_init/4]).
%% Run in place of a refused erpc call
-export([unauthorized/0]).
%% Configuration
-export([defaults/0]).
-export([default_spawn/0]).
-export([default_names/0]).
-export([default_name_max_bytes/0]).
-export([default_logger_budget/0]).
-export([config/0]).
%% Decisions without side effects (tests, the demo)
-export([spawn_decision/4]).
-export([send_decision/3]).

-type decision() :: keep | drop.
%% A function remote nodes may run: any arguments of that arity (`'_':
%% any arity), or one spec per argument, `'_'' or `{one_of, Values}'.
-type allowed() :: {module(), atom(), arity() | '_' | [arg_spec()]}.
-type arg_spec() :: '_' | {one_of, [term()]}.
-export_type([allowed/0, arg_spec/0]).
-type reason() :: atom().
-export_type([decision/0, reason/0]).

%%% Configuration

%% @doc The read-only functions any node may run here, each with the only
%% argument values it may take: every one answers in constant time from
%% counters or build constants, stops no scheduler, and tells nothing a
%% connected node could use against this one (no cookie, environment,
%% file, application env, process state, dictionary or ETS contents).
%% `erlang:system_info/1' and `erlang:statistics/1' take many other items
%% that do leak or block (`procs', `info', `dist', `loaded',
%% `allocated_areas', `exact_reductions', ...): those are refused.
-spec default_spawn() -> [allowed()].
default_spawn() ->
    [{erlang, node, 0},
     %% `true' on every node a peer can reach: what the connection says
     %% already. relx's scripts probe readiness with it (`daemon' waits
     %% until it answers, `ping', `stop''s wait for the node to go).
     {erlang, is_alive, 0},
     {erlang, nodes, 0},
     {erlang, nodes, [{one_of, [visible, hidden, connected, this, known]}]},
     {erlang, system_info, [{one_of, safe_system_info()}]},
     {erlang, statistics, [{one_of, safe_statistics()}]}].

%% Build constants and O(1) counters.
safe_system_info() ->
    [otp_release, version, system_version, driver_version, nif_version, machine,
     wordsize, build_type, emu_flavor, emu_type, smp_support, threads,
     schedulers, schedulers_online, dirty_cpu_schedulers, dirty_cpu_schedulers_online,
     dirty_io_schedulers, logical_processors, logical_processors_online,
     logical_processors_available, thread_pool_size, kernel_poll,
     process_count, process_limit, port_count, port_limit, atom_count, atom_limit,
     ets_count, ets_limit, dist_buf_busy_limit].

%% Counters the VM keeps (no item that needs thread progress).
safe_statistics() ->
    [context_switches, garbage_collection, io, reductions, run_queue, runtime,
     total_run_queue_lengths, total_active_tasks, wall_clock].

%% @doc OTP registered names (on the OTP name blocklist) that other nodes
%% may message: `global' and `pg' (default scope) need them, and
%% `logger_proxy' receives the log events of processes whose group leader
%% is on this node (e.g. of a call this node made elsewhere). Funs are
%% never delivered to them (a log event's `report_cb' would run here).
-spec default_names() -> [atom()].
default_names() ->
    [global_name_server, pg, logger_proxy].

%% @doc The largest payload (external size in bytes) delivered to each
%% allowlisted name; `'_'' for names not listed. `global''s syncs carry
%% every name, so its bound is larger. `pg''s syncs carry every group, but
%% pg takes each in one go (a 4 MiB sync held it for over 100 ms, with a
%% garbage collection of a million words): 1 MiB, about 30,000 members;
%% raise it for larger pg scopes (refusals say `payload_too_large').
-spec default_name_max_bytes() -> #{atom() => non_neg_integer()}.
default_name_max_bytes() ->
    #{global_name_server => 4 * 1024 * 1024,
      pg => 1024 * 1024,
      logger_proxy => 64 * 1024,
      '_' => 1024 * 1024}.

%% @doc What each node may have delivered to `logger_proxy': 256 KiB at
%% once, then 64 KiB a second (external size of the events). Every event
%% delivered costs this node a format and a write in `logger_proxy' and
%% the handlers; within the bound a peer can keep the log busy but not
%% grow it without end.
-spec default_logger_budget() -> #{burst_bytes := pos_integer(), bytes_per_second := pos_integer()}.
default_logger_budget() ->
    #{burst_bytes => 256 * 1024, bytes_per_second => 64 * 1024}.

%% @doc Every key with its default.
-spec defaults() -> map().
defaults() ->
    #{spawn => default_spawn(),
      rex => default_spawn(),
      names => default_names(),
      name_max_bytes => default_name_max_bytes(),
      global_max_name_bytes => 1024,
      logger_max_depth => 64,
      strict_names => false,
      global_resolvers => [global],
      reply_refused => true,
      logger_budget => default_logger_budget()}.

%% @doc The policy in force: the defaults overridden by app env `policy'.
-spec config() -> map().
config() ->
    case application:get_env(erldist_filter, policy) of
        {ok, Map} when is_map(Map) -> maps:merge(defaults(), Map);
        {ok, List} when is_list(List) -> maps:merge(defaults(), maps:from_list([P || P = {_, _} <- List]));
        _ -> defaults()
    end.

%%% erldist_filter_handler

%%% Operator hook (see erldist_filter_operator): an operator connection
%%% keeps everything, logged; every other peer gets the policy.

%% @doc Operations without payload: EXIT2 and GROUP_LEADER, refused
%% (kept for an operator).
-spec classify(erldist_filter_handler:hint(), node(), udist:dop_without_payload()) -> keep | drop.
classify(Hint, Sysname, Control) ->
    case erldist_filter_operator:is_operator(Sysname) of
        true -> log(keep, Sysname, Control, #{reason => operator, hint => Hint}), keep;
        false -> classify_peer(Hint, Sysname, Control)
    end.

%% @doc Operations with payload.
-spec classify(erldist_filter_handler:hint(), node(), udist:dop_with_payload(), term()) -> keep | drop.
classify(Hint, Sysname, Control, Payload) ->
    case erldist_filter_operator:is_operator(Sysname) of
        true -> log(keep, Sysname, Control, #{reason => operator, hint => Hint, request => shape(Payload)}), keep;
        false -> classify_peer(Hint, Sysname, Control, Payload)
    end.

%% @doc Runs in every process a remote node spawns here (through
%% `edf:req/3').
-spec spawn_request_init(node(), module(), atom(), [term()]) -> term().
spawn_request_init(Sysname, Module, FunctionName, Arguments) ->
    case erldist_filter_operator:is_operator(Sysname) of
        true ->
            log_spawn(keep, Sysname, {Module, FunctionName, length(Arguments)}, operator),
            erlang:apply(Module, FunctionName, Arguments);
        false ->
            spawn_request_init_peer(Sysname, Module, FunctionName, Arguments)
    end.

%%% End of the operator hook.

classify_peer(Hint, Sysname, Control) ->
    Reason = case Control of
                 _ when ?is_udist_dop_exit2_t(Control) -> exit2_refused;
                 _ when ?is_udist_dop_group_leader_t(Control) -> group_leader_refused;
                 _ -> unexpected_operation
             end,
    log(drop, Sysname, Control, #{reason => Reason, hint => Hint}),
    drop.

classify_peer(Hint, Sysname, Control, Payload) ->
    Config = config(),
    {Decision, Reason, Extra} =
        erldist_filter_policy_logger_proxy:charge(Sysname, Payload,
                                                  send_decision(Sysname, Control, Payload, Hint, Config),
                                                  Config),
    log(Decision, Sysname, Control, Extra#{reason => Reason, hint => Hint, request => shape(Payload)}),
    Decision =:= drop andalso maps:get(reply_refused, Config) =:= true
        andalso answer_refused(Sysname, Control, Payload),
    Decision.

spawn_request_init_peer(Sysname, Module, FunctionName, Arguments) ->
    Config = config(),
    case spawn_decision(Sysname, Module, FunctionName, Arguments, Config) of
        {keep, Reason, Requested} ->
            log_spawn(keep, Sysname, Requested, Reason),
            erlang:apply(Module, FunctionName, Arguments);
        {drop, Reason, Requested} ->
            log_spawn(drop, Sysname, Requested, Reason),
            refuse_spawn(Module, FunctionName, Arguments)
    end.

%% @doc What a refused `erpc:execute_call' runs instead: its caller gets
%% `exit:{exception, unauthorized}'.
-spec unauthorized() -> no_return().
unauthorized() ->
    exit(unauthorized).

%%% Decisions

%% @doc The decision on a spawn of `Module:FunctionName(Arguments...)'
%% from `Sysname', with the requested MFA (the one inside `erpc''s
%% wrappers).
-spec spawn_decision(node(), module(), atom(), [term()]) ->
    {decision(), reason(), {module(), atom(), arity()} | term()}.
spawn_decision(Sysname, Module, FunctionName, Arguments) ->
    spawn_decision(Sysname, Module, FunctionName, Arguments, config()).

spawn_decision(Sysname, erpc, execute_call, [_Ref, M, F, A], Config) ->
    mfa_decision(Sysname, M, F, A, Config);
spawn_decision(Sysname, erpc, execute_cast, [M, F, A], Config) ->
    mfa_decision(Sysname, M, F, A, Config);
spawn_decision(Sysname, M, F, A, Config) ->
    mfa_decision(Sysname, M, F, A, Config).

mfa_decision(Sysname, M, F, A, Config) when is_atom(M), is_atom(F), is_list(A) ->
    case proper_length(A) of
        undefined ->
            {drop, spawn_malformed, {M, F}};
        Arity ->
            case allowed_mfa(Sysname, M, F, A, maps:get(spawn, Config)) of
                true -> {keep, spawn_allowed, {M, F, Arity}};
                false -> {drop, spawn_not_allowed, {M, F, Arity}}
            end
    end;
mfa_decision(_Sysname, M, F, _A, _Config) ->
    {drop, spawn_malformed, {M, F}}.

%% Whether `M:F(Args...)' may run for `Sysname' by the allowlist
%% `Allowed': judged with its arguments (a proper list).
allowed_mfa(Sysname, M, F, Args, Allowed) ->
    Arity = length(Args),
    lists:any(fun({M1, F1, A1}) when M1 =:= M, F1 =:= F ->
                      A1 =:= '_' orelse A1 =:= Arity orelse
                          (is_list(A1) andalso length(A1) =:= Arity andalso args_match(A1, Args));
                 (_) -> false
              end,
              for_node(Sysname, Allowed)).

proper_length(List) ->
    try length(List)
    catch error:badarg -> undefined
    end.

args_match([], []) -> true;
args_match(['_' | Specs], [_ | Args]) -> args_match(Specs, Args);
args_match([{one_of, Values} | Specs], [Arg | Args]) when is_list(Values) ->
    lists:member(Arg, Values) andalso args_match(Specs, Args);
args_match(_Specs, _Args) -> false.

%% A list applies to every node; a map has per-node lists, `'_'' and
%% lists for the holders of a certificate attribute.
for_node(_Sysname, List) when is_list(List) -> List;
for_node(Sysname, Map) when is_map(Map) ->
    maps:get('_', Map, []) ++ maps:get(Sysname, Map, []) ++ for_certificate(Sysname, Map);
for_node(_Sysname, _) -> [].

%% Keys `{peer_cert, Type, Value}' match a node connected over TLS whose
%% certificate has `{Type, Value}' in its subject or alternative names.
%% Without such a certificate none match: fail closed.
for_certificate(Sysname, Map) ->
    case [Key || Key = {peer_cert, _, _} <- maps:keys(Map)] of
        [] ->
            [];
        Keys ->
            case erldist_filter:peer_certificate(Sysname) of
                {ok, #{subject := Subject, subject_alt_names := AltNames}} ->
                    lists:append([maps:get(Key, Map) || Key = {peer_cert, Type, Value} <- Keys,
                                                        lists:member({Type, Value},
                                                                     Subject ++ AltNames)]);
                undefined ->
                    []
            end
    end.

refuse_spawn(erpc, execute_call, [Ref, _M, _F, _A]) ->
    %% The caller gets a normal erpc answer: exit {exception, unauthorized}.
    erpc:execute_call(Ref, ?MODULE, unauthorized, []);
refuse_spawn(_Module, _FunctionName, _Arguments) ->
    exit(unauthorized).

%% @doc The decision on a redirected send (or payload exit) with the
%% policy in force.
-spec send_decision(node(), udist:dop_with_payload(), term()) -> {decision(), reason()}.
send_decision(Sysname, Control, Payload) ->
    send_decision(Sysname, Control, Payload, erldist_filter_hint:hint(Sysname, Control, Payload), config()).

send_decision(_Sysname, Control, _Payload, _Hint, _Config) when ?is_udist_dop_exit2_t(Control) ->
    {drop, exit2_refused};
send_decision(Sysname, Control, Payload, Hint, Config) when ?is_udist_dop_send_to_name_t(Control) ->
    name_decision(Sysname, to_name(Control), Payload, Hint, Config);
send_decision(_Sysname, Control, {io_reply, _ReplyAs, _Reply}, _Hint, _Config)
  when ?is_udist_dop_send_to_pid_t(Control) ->
    %% The answer to an I/O request a process here made of a group leader
    %% there (a remote shell's, a process spawned from there, or our
    %% refusal of theirs, `{error, enotsup}'): delivered to an ordinary
    %% process; an OTP process (an I/O server, a group leader) is not
    %% waiting for one from afar.
    Pid = target(Control),
    case {registered_name(Pid), erldist_filter_protected:lookup(Pid)} of
        {undefined, unprotected} -> {keep, io_reply};
        _ -> {drop, io_reply}
    end;
send_decision(Sysname, Control, Payload, Hint, Config) when ?is_udist_dop_send_to_alias_t(Control) ->
    %% An alias names no process we can look up, and an OTP process's
    %% alias is known to a peer while it waits for that peer's reply (rex
    %% running a block_call, a supervisor calling out): a gen request to
    %% it would reach the process its name and pid are guarded for. What
    %% comes to an alias from afar is a reply to a request this node made,
    %% tagged with that alias (gen's `[alias | Alias]', or `Alias'); a
    %% request is never one.
    Alias = target(Control),
    case Payload of
        {[alias | Alias], _Reply} -> {keep, reply_to_alias};
        {Alias, _Reply} -> {keep, reply_to_alias};
        {'$gen_call', _From, _Request} -> {drop, request_to_alias};
        {'$gen_cast', _Request} -> {drop, request_to_alias};
        _ -> pid_or_alias_decision(Sysname, Control, Payload, Hint, Config)
    end;
send_decision(Sysname, Control, Payload, Hint, Config) when ?is_udist_dop_send_to_pid_t(Control) ->
    pid_or_alias_decision(Sysname, Control, Payload, Hint, Config);
send_decision(_Sysname, _Control, _Payload, _Hint, _Config) ->
    {drop, unexpected_operation}.

pid_or_alias_decision(Sysname, Control, Payload, Hint, Config) ->
    case dangerous(Payload) of
        {true, Reason} -> {drop, Reason};
        false ->
            %% A pid of a protected or registered process is judged by its
            %% name, so a pid of an OTP process gets no more than its name;
            %% one without a name (a supervisor, an application master, a
            %% group leader) takes only replies. (The hint already says
            %% the same; the name rules here are the policy's own.)
            Pid = target(Control),
            case {registered_name(Pid), erldist_filter_protected:lookup(Pid)} of
                {undefined, unprotected} when Hint =:= drop -> {drop, hint_drop};
                {undefined, unprotected} -> {keep, ordinary_send};
                {undefined, {named, Name}} -> name_decision(Sysname, Name, Payload, Hint, Config);
                {undefined, unnamed} -> unnamed_decision(Payload);
                {Name, _} -> name_decision(Sysname, Name, Payload, Hint, Config)
            end
    end.

name_decision(_Sysname, Name, _Payload, _Hint, _Config) when not is_atom(Name) ->
    {drop, bad_name};
name_decision(Sysname, net_kernel, Payload, _Hint, _Config) ->
    case Payload of
        {'$gen_call', _, {is_auth, Sysname}} -> {keep, net_kernel_is_auth};
        _ -> {drop, net_kernel_request}
    end;
name_decision(Sysname, rex, Payload, Hint, Config) ->
    rex_decision(Sysname, Payload, Hint, Config);
name_decision(Sysname, Name, Payload, Hint, Config) ->
    Otp = is_otp_name(Name),
    Allowed = lists:member(Name, for_node(Sysname, maps:get(names, Config))),
    case dangerous(Payload) of
        {true, Reason} ->
            {drop, Reason};
        false ->
            case erldist_filter_hint:is_router_name(Name) of
                true -> {drop, router_name};
                false when Allowed -> allowed_name_decision(Sysname, Name, Payload, Config);
                false when Otp -> {drop, otp_name_reason(Name)};
                false ->
                    case maps:get(strict_names, Config) =:= true of
                        true -> {drop, name_not_allowed};
                        false when Hint =:= drop -> {drop, hint_drop};
                        false -> {keep, ordinary_send}
                    end
            end
    end.

%% A protected process without a name gets only what looks like a
%% gen_server reply to a call it made (`{Tag, Reply}', the tag a
%% reference or `[alias | Ref]'): nothing else is meant for it from afar.
unnamed_decision({Ref, _Reply}) when is_reference(Ref) -> {keep, reply_to_protected};
unnamed_decision({[alias | Ref], _Reply}) when is_reference(Ref) -> {keep, reply_to_protected};
unnamed_decision(_Payload) -> {drop, protected_process}.

otp_name_reason(code_server) -> code_server_request;
otp_name_reason(erl_prim_loader) -> code_server_request;
otp_name_reason(init) -> init_request;
otp_name_reason(standard_error) -> io_server_request;
otp_name_reason(user) -> io_server_request;
otp_name_reason(Name) when Name =:= kernel_sup; Name =:= kernel_safe_sup; Name =:= net_sup ->
    supervisor_request;
otp_name_reason(_Name) -> otp_name_not_allowed.

%% Allowed OTP names get bounded payloads only (their size per name, and
%% what each name's handling could blow up), never funs (other than
%% global's resolvers), and for global_name_server only the calls other
%% nodes make.
allowed_name_decision(Sysname, Name, Payload, Config) ->
    Sizes = maps:get(name_max_bytes, Config),
    Max = maps:get(Name, Sizes, maps:get('_', Sizes, infinity)),
    case Max =:= infinity orelse erlang:external_size(Payload) =< Max of
        false -> {drop, payload_too_large};
        true -> allowed_payload_decision(Sysname, Name, Payload, Config)
    end.

%% The fun rule holds for every allowed name; the doors with payload
%% rules of their own (global, pg, logger_proxy) each have a module.
allowed_payload_decision(Sysname, Name, Payload, Config) ->
    case carries_foreign_fun(Payload, fun_modules(Name, Config)) of
        true -> {drop, fun_to_otp_name};
        false -> door_decision(Sysname, Name, Payload, Config)
    end.

fun_modules(global_name_server, Config) -> erldist_filter_policy_global:resolvers(Config);
fun_modules(_Name, _Config) -> [].

door_decision(_Sysname, global_name_server, Payload, Config) ->
    erldist_filter_policy_global:decision(Payload, Config);
door_decision(Sysname, pg, Payload, _Config) ->
    erldist_filter_policy_pg:decision(Sysname, Payload);
door_decision(_Sysname, logger_proxy, Payload, Config) ->
    erldist_filter_policy_logger_proxy:decision(Payload, Config);
door_decision(_Sysname, _Name, _Payload, _Config) ->
    {keep, allowed_name}.

rex_decision(_Sysname, {_, features_request}, _Hint, _Config) ->
    {keep, rex_features};
rex_decision(Sysname, {features_reply, Sysname, Features}, _Hint, _Config) when is_list(Features) ->
    {keep, rex_features};
rex_decision(Sysname, {'$gen_cast', {cast, M, F, A, _Gl}}, _Hint, Config) ->
    rex_mfa(Sysname, M, F, A, rex_cast_not_allowed, Config);
rex_decision(Sysname, {'$gen_call', _, {Call, M, F, A, _Gl}}, _Hint, Config)
  when Call =:= call; Call =:= block_call ->
    rex_mfa(Sysname, M, F, A, rex_call_not_allowed, Config);
rex_decision(Sysname, {From, {call, M, F, A, _Gl}}, _Hint, Config) when is_pid(From) ->
    %% The C nodes' (erl_call's) form of a call, answered `{rex, Reply}'.
    rex_mfa(Sysname, M, F, A, rex_call_not_allowed, Config);
rex_decision(_Sysname, _Payload, _Hint, _Config) ->
    {drop, rex_request}.

%% rex runs what it is asked in its own process, outside the spawn
%% budgets: its allowlist (`rex', default the cheap, bounded
%% `default_spawn/0') is separate from `spawn'.
rex_mfa(Sysname, M, F, A, Refused, Config) when is_atom(M), is_atom(F), is_list(A) ->
    case proper_length(A) =/= undefined andalso allowed_mfa(Sysname, M, F, A, maps:get(rex, Config)) of
        true -> {keep, rex_allowed};
        false -> {drop, Refused}
    end;
rex_mfa(_Sysname, _M, _F, _A, Refused, _Config) ->
    {drop, Refused}.

%% Payload shapes that run code or drive OTP processes from afar, whoever
%% they are sent to.
dangerous(Payload) ->
    case Payload of
        {'$gen_cast', {cast, M, F, A, _}} when is_atom(M), is_atom(F), is_list(A) ->
            {true, rex_cast_shape};
        {'$gen_call', _, {Op, _}}
          when Op =:= start_child; Op =:= terminate_child; Op =:= restart_child; Op =:= delete_child ->
            {true, supervisor_request};
        {io_request, _, _, _} -> {true, io_request};
        {io_reply, _, _} -> {true, io_reply};
        {code_call, _, _} -> {true, code_server_request};
        {system, _, _} -> {true, system_message};
        {'EXIT', _, _} -> {true, fake_exit};
        _ ->
            case erldist_filter_hint:payload_hint(Payload) of
                drop -> {true, sensitive_shape};
                unsafe -> false
            end
    end.

registered_name(Pid) when is_pid(Pid), node(Pid) =:= node() ->
    %% A pid of another incarnation of this node has our name but is not
    %% local: process_info/2 refuses it.
    try erlang:process_info(Pid, registered_name) of
        {registered_name, Name} when is_atom(Name) -> Name;
        _ -> undefined
    catch
        error:badarg -> undefined
    end;
registered_name(_) ->
    undefined.

is_otp_name(Name) ->
    try erldist_filter_nif:otp_name_is_blocked(Name) =:= true
    catch _:_ -> false
    end.

%% Funs in a term, except funs of the given modules (global's default
%% resolver is a local fun of `global': such a fun can only run that
%% module's code). Bounded by the term's size (the payload is already
%% decoded).
carries_foreign_fun(Term, Modules) when is_function(Term) ->
    {module, M} = erlang:fun_info(Term, module),
    not lists:member(M, Modules);
carries_foreign_fun(Term, Modules) when is_tuple(Term) ->
    carries_foreign_fun(tuple_to_list(Term), Modules);
carries_foreign_fun([H | T], Modules) ->
    carries_foreign_fun(H, Modules) orelse carries_foreign_fun(T, Modules);
carries_foreign_fun(Term, Modules) when is_map(Term) ->
    carries_foreign_fun(maps:to_list(Term), Modules);
carries_foreign_fun(_Term, _Modules) ->
    false.

to_name(#udist_dop_reg_send{to_name = Name}) -> Name;
to_name(#udist_dop_reg_send_tt{to_name = Name}) -> Name;
to_name(#udist_dop_altact_sig_send{to = Name}) -> Name.

%%% Answers to refused requests (only to the sending node)

answer_refused(Sysname, Control, {'$gen_call', {Pid, Tag} = From, _Request}) when is_pid(Pid) ->
    case node(Pid) =:= Sysname andalso tag_on(Sysname, Tag) of
        true ->
            Reply = case target_name(Control) of
                        rex -> {badrpc, {'EXIT', unauthorized}};
                        _ -> {error, unauthorized}
                    end,
            _ = gen:reply(From, Reply),
            true;
        false -> false
    end;
answer_refused(Sysname, _Control, {io_request, From, ReplyAs, _Request})
  when is_pid(From), node(From) =:= Sysname ->
    _ = erlang:send(From, {io_reply, ReplyAs, {error, enotsup}}, [noconnect]),
    true;
answer_refused(Sysname, Control, {From, {call, _M, _F, _A, _Gl}})
  when is_pid(From), node(From) =:= Sysname ->
    %% erl_call's rex call waits for `{rex, Reply}'.
    case target(Control) of
        rex -> _ = erlang:send(From, {rex, {badrpc, {'EXIT', unauthorized}}}, [noconnect]), true;
        _ -> false
    end;
answer_refused(_Sysname, _Control, _Payload) ->
    false.

%% The name a send was aimed at: its registered name, or the name of the
%% process whose pid it was sent to.
target_name(Control) when ?is_udist_dop_send_to_name_t(Control) -> to_name(Control);
target_name(Control) ->
    case registered_name(target(Control)) of
        undefined ->
            case erldist_filter_protected:lookup(target(Control)) of
                {named, Name} -> Name;
                _ -> undefined
            end;
        Name -> Name
    end.

%% gen's tags: a reference, or `[alias | Alias]' whose alias must be the
%% sender's.
tag_on(Sysname, [alias | Alias]) when is_reference(Alias) -> node(Alias) =:= Sysname;
tag_on(_Sysname, Tag) when is_reference(Tag) -> true;
tag_on(_Sysname, _Tag) -> false.

%%% Logging (bounded: never the payload or the arguments)

log(Decision, Sysname, Control, Extra) ->
    Report = maps:merge(#{what => erldist_filter_policy,
                          node => Sysname,
                          dop => dop_name(Control),
                          decision => Decision,
                          to => target(Control)},
                        Extra),
    case Decision of
        drop -> ok = erldist_filter_default_handler:early(), ?LOG_WARNING(Report, #{domain => [erldist_filter]});
        keep -> ?LOG_NOTICE(Report, #{domain => [erldist_filter]})
    end.

log_spawn(Decision, Sysname, Requested, Reason) ->
    Report = #{what => erldist_filter_policy, node => Sysname, dop => 'DOP_SPAWN_REQUEST',
               decision => Decision, reason => Reason, mfa => Requested},
    %% A spawned process has the caller's group leader, and logger would
    %% forward the event to the caller's node: log it here only.
    Meta = case whereis(user) of
               User when is_pid(User) -> #{domain => [erldist_filter], gl => User};
               _ -> #{domain => [erldist_filter]}
           end,
    case Decision of
        drop -> ok = erldist_filter_default_handler:early(), ?LOG_WARNING(Report, Meta);
        keep -> ?LOG_NOTICE(Report, Meta)
    end.

dop_name(Control) ->
    try udist:get_dop_name(Control)
    catch _:_ -> unknown
    end.

target(#udist_dop_reg_send{to_name = N}) -> N;
target(#udist_dop_reg_send_tt{to_name = N}) -> N;
target(#udist_dop_altact_sig_send{to = T}) -> T;
target(Control) when is_tuple(Control), tuple_size(Control) >= 3 ->
    %% to_pid / alias / to_proc: the record field after from_pid.
    element(3, Control);
target(_) -> undefined.

%% A bounded description of a payload: its first atoms.
shape(Payload) when is_tuple(Payload), tuple_size(Payload) > 0 ->
    case element(1, Payload) of
        Tag when is_atom(Tag), tuple_size(Payload) >= 2 ->
            case element(tuple_size(Payload), Payload) of
                Inner when is_tuple(Inner), tuple_size(Inner) > 0, is_atom(element(1, Inner)) ->
                    {Tag, element(1, Inner)};
                Inner when is_atom(Inner) -> {Tag, Inner};
                _ -> Tag
            end;
        Tag when is_atom(Tag) -> Tag;
        _ when is_atom(element(tuple_size(Payload), Payload)) -> element(tuple_size(Payload), Payload);
        _ -> tuple
    end;
shape(Payload) when is_atom(Payload) -> Payload;
shape(Payload) when is_list(Payload) -> list;
shape(Payload) when is_binary(Payload) -> {binary, byte_size(Payload)};
shape(_) -> other.

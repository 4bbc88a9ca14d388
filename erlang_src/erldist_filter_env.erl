%% @doc The library's application environment, read when the NIF loads so
%% that it holds from the first distribution connection, even when
%% distribution starts at boot before any application (SPEC decision 2).
%%
%% Keys of application `erldist_filter' (sys.config or runtime.exs):
%% <ul>
%% <li>`config': a map or proplist of the `config_set/2' switches, e.g.
%%   `#{deep_packet_inspection => true, redirect_dist_operations => true}'.</li>
%% <li>`limits': a map or proplist of the `limits_set/2' bounds.</li>
%% <li>`logger_capacity': the logger queue's capacity (events).</li>
%% <li>`handler': the handler module (see `erldist_filter:handler_set/1').</li>
%% <li>`safe_policy': `true' switches on the shipped safe policy in one
%%   line: the switches `deep_packet_inspection', `compact_fragments',
%%   `logging', `redirect_dist_operations' and `otp_name_blocklist', the
%%   limits of {@link safe_limits/0}, a logger capacity of 1000 and the
%%   handler `erldist_filter_policy'. Explicit `config', `limits',
%%   `logger_capacity' and `handler' entries still override it. The
%%   policy's own settings are under key `policy' (see
%%   `erldist_filter_policy').</li>
%% <li>`bypass_filter': `true' makes the carrier deliver inbound frames
%%   without the filter (framing only). For benchmarks, to measure the
%%   carrier's own floor; it switches off all protection. Read when a
%%   connection starts.</li>
%% </ul>
%% A bad entry is logged and skipped; it never stops the NIF from loading.
%% The application's start checks every entry and refuses a bad one, and
%% applies the environment again (it may have changed since the load):
%% see `erldist_filter_config'.
-module(erldist_filter_env).

-include_lib("kernel/include/logger.hrl").

-export([settings/0]).
-export([safe_settings/0]).
-export([safe_limits/0]).
-export([bypass_filter/0]).

-type setting() :: {config, atom(), term()} | {limits, atom(), term()} | {logger_capacity, term()}
                 | {handler, module()}.
-export_type([setting/0]).

%% @doc Every setting found in the environment, in a fixed order.
-spec settings() -> [setting()].
settings() ->
    %% Loading makes sys.config's values visible before the application
    %% starts; an application that is not installed simply has none.
    ok = load_app(),
    Safe = case application:get_env(erldist_filter, safe_policy) of
               {ok, true} -> safe_settings();
               _ -> []
           end,
    Safe
        ++ [{config, K, V} || {K, V} <- pairs(config)]
        ++ [{limits, K, V} || {K, V} <- pairs(limits)]
        ++ case application:get_env(erldist_filter, logger_capacity) of
               {ok, N} -> [{logger_capacity, N}];
               undefined -> []
           end
        ++ case application:get_env(erldist_filter, handler) of
               {ok, M} when is_atom(M) -> [{handler, M}];
               _ -> []
           end.

pairs(Key) ->
    case application:get_env(erldist_filter, Key) of
        undefined -> [];
        {ok, Map} when is_map(Map) -> lists:sort(maps:to_list(Map));
        {ok, List} when is_list(List) -> [P || P = {_, _} <- List];
        {ok, Other} ->
            ?LOG_ERROR(#{what => bad_app_env, key => Key, value => Other}, #{domain => [erldist_filter]}),
            []
    end.

%% @doc What `{safe_policy, true}' stands for (applied before the explicit
%% entries, which therefore win).
-spec safe_settings() -> [setting()].
safe_settings() ->
    [{config, K, true} || K <- [compact_fragments, deep_packet_inspection, logging,
                                otp_name_blocklist, redirect_dist_operations]]
        ++ [{limits, K, V} || {K, V} <- lists:sort(maps:to_list(safe_limits()))]
        ++ [{logger_capacity, 1000},
            {handler, erldist_filter_policy}].

%% @doc The limits of the safe policy: no message over 16 MiB (a larger one
%% closes the sender's connection while its fragments arrive, before it is
%% held), at most 32 MiB held per connection, logged terms over 4 KiB
%% logged as their size only, at most 10,000 new atoms created per peer
%% node, and at most a tenth of the atom table still free when the NIF
%% loads for all peers together (about 100,000 with the default table; over
%% either the connection is closed before the atom exists). See the
%% README, "Atom-table guard", for sizing them.
-spec safe_limits() -> #{erldist_filter_nif:limit_key() => non_neg_integer()}.
safe_limits() ->
    #{max_message_bytes => 16 * 1024 * 1024,
      max_packet_len => 16 * 1024 * 1024,
      max_buffered_bytes => 32 * 1024 * 1024,
      max_log_bytes => 4096,
      max_new_atoms => 10000,
      max_new_atoms_total => node_wide_atom_budget()}.

%% A tenth of what is free in the atom table (which no peer can make
%% smaller than this before the budget is taken): room for the node's own
%% growth stays.
node_wide_atom_budget() ->
    Free = erlang:system_info(atom_limit) - erlang:system_info(atom_count),
    max(Free div 10, 1).

%% @doc Whether new connections skip the filter (`{bypass_filter, true}').
-spec bypass_filter() -> boolean().
bypass_filter() ->
    ok = load_app(),
    application:get_env(erldist_filter, bypass_filter, false) =:= true.

%% Load the application's description (a no-op once loaded); before the
%% application controller runs (early boot) there is nothing to read.
load_app() ->
    try application:load(erldist_filter) of
        _ -> ok
    catch
        exit:_ -> ok
    end.

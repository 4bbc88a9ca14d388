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
%% </ul>
%% A bad entry is logged and skipped; it never stops the NIF from loading.
-module(erldist_filter_env).

-include_lib("kernel/include/logger.hrl").

-export([settings/0]).

-type setting() :: {config, atom(), term()} | {limits, atom(), term()} | {logger_capacity, term()}
                 | {handler, module()}.
-export_type([setting/0]).

%% @doc Every setting found in the environment, in a fixed order.
-spec settings() -> [setting()].
settings() ->
    %% Loading makes sys.config's values visible before the application
    %% starts; an application that is not installed simply has none.
    _ = catch application:load(erldist_filter),
    [{config, K, V} || {K, V} <- pairs(config)]
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

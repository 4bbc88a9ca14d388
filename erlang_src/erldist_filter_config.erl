%%% @doc The application environment made to hold: checked, then applied to
%%% the NIF at application start and by {@link erldist_filter:config_reload/0}.
%%%
%%% The NIF applies the environment when it loads, which can be at boot,
%%% before config providers (Elixir's `config/runtime.exs', release
%%% `sys.config' overlays) have run. So at start the application compares
%%% what the NIF runs with what the environment says now and sets the
%%% difference. The environment is the whole truth: a switch or limit it no
%%% longer sets goes back to the NIF's default, and with no `handler' (and
%%% no `safe_policy') the handler is cleared.
%%%
%%% Every key and value is checked first, and nothing is applied when one is
%%% wrong: a typo must not leave a node unprotected while looking
%%% configured. The error names the key, the value and what would be valid:
%%% `{invalid_config, Key, Value, ValidChoices}', where `Key' is a key of
%%% the application (`safe_policy') or, inside `config' and `limits', a
%%% pair (`{limits, max_new_atoms}').
%%%
%%% A new application environment key must be added to {@link keys/0}.
-module(erldist_filter_config).

-export([reload/0]).
-export([check/0]).
-export([keys/0]).
-export([format/1]).

-export_type([invalid/0]).
-export_type([in_force/0]).

-type invalid() :: {invalid_config, Key :: atom() | {config | limits, term()}, Value :: term(),
                    ValidChoices :: [term()]}.
-type in_force() :: #{safe_policy := boolean(),
                      handler := undefined | module(),
                      config := #{erldist_filter_nif:config_key() => boolean()},
                      limits := #{erldist_filter_nif:limit_key() => term()},
                      logger_capacity := non_neg_integer(),
                      bypass_filter := boolean()}.

-define(APP, erldist_filter).

%% @doc Check the environment and, when it is valid, make the NIF run it.
%% Returns what is in force afterwards.
-spec reload() -> {ok, in_force()} | {error, invalid() | {nif_not_loaded, term()}}.
reload() ->
    case code:ensure_loaded(erldist_filter_nif) of
        {module, _} ->
            case check() of
                ok -> {ok, apply_env()};
                {error, _} = Error -> Error
            end;
        {error, Reason} ->
            %% The code server has logged why on_load failed (often a
            %% missing priv/liberldist_filter_nif.so).
            {error, {nif_not_loaded, Reason}}
    end.

%% @doc Check every key and value of the application environment; the
%% first wrong one (in key order) is returned. The valid switches and
%% limits are the NIF's, so this loads it.
-spec check() -> ok | {error, invalid()}.
check() ->
    _ = application:load(?APP),
    try
        lists:foreach(fun({K, V}) -> check_key(K, V) end,
                      lists:sort(application:get_all_env(?APP)))
    catch
        throw:{invalid_config, _, _, _} = Invalid -> {error, Invalid}
    end.

%% @doc The keys of the application environment.
-spec keys() -> [atom()].
keys() ->
    [bypass_filter, config, enable_erldist_filter, handler, limits, log_to_default_handler,
     logger_capacity, operators, policy, protected_refresh_ms, safe_policy, spawn_budget,
     telemetry_interval_ms].

%% @doc One line saying what is in force, for the log and the shell.
-spec format(in_force()) -> string().
format(#{safe_policy := Safe, handler := Handler, config := Config, limits := Limits,
         logger_capacity := Capacity, bypass_filter := Bypass}) ->
    Defaults = maps:get(limits, erldist_filter_nif:defaults()),
    Switches = [K || {K, true} <- lists:sort(maps:to_list(Config))],
    Changed = [io_lib:format("~s=~w", [K, V])
               || {K, V} <- lists:sort(maps:to_list(Limits)), maps:get(K, Defaults, V) =/= V],
    lists:flatten(
      io_lib:format("erldist_filter in force: safe_policy=~w handler=~w switches=[~s] "
                    "limits=[~s] (others default) logger_capacity=~w bypass_filter=~w",
                    [Safe, Handler, lists:join(",", [atom_to_list(S) || S <- Switches]),
                     lists:join(",", Changed), Capacity, Bypass])).

%%--------------------------------------------------------------------
%% Checking
%%--------------------------------------------------------------------

check_key(K, V) when K =:= bypass_filter; K =:= enable_erldist_filter;
                     K =:= log_to_default_handler; K =:= safe_policy ->
    is_boolean(V) orelse invalid(K, V, [true, false]);
check_key(config, V) ->
    Switches = maps:get(config, erldist_filter_nif:defaults()),
    each_pair(config, V, fun(K, B) -> check_switch(Switches, K, B) end);
check_key(limits, V) ->
    Limits = maps:get(limits, erldist_filter_nif:defaults()),
    each_pair(limits, V, fun(K, L) -> check_limit(Limits, K, L) end);
check_key(logger_capacity, V) ->
    is_u64(V) orelse invalid(logger_capacity, V, [non_neg_integer]);
check_key(handler, V) ->
    %% A handler that cannot load would only fail on the first redirected
    %% message, long after start.
    (is_atom(V) andalso (V =:= undefined orelse code:ensure_loaded(V) =:= {module, V}))
        orelse invalid(handler, V, [undefined, loadable_module]);
check_key(K, V) when K =:= policy; K =:= spawn_budget ->
    %% Their owners (erldist_filter_policy, erldist_filter_budget) read the
    %% entries; here only the shape.
    each_pair(K, V, fun(_, _) -> ok end);
check_key(operators, V) ->
    %% Checked whole here: a wrong rule would silently trust no one, or
    %% (worse) be read differently than meant.
    erldist_filter_operator:check(V)
        orelse invalid(operators, V, [[release_tools, {loopback, [pattern | dynamic]}, {peer_cert, type, value}]]);
check_key(K, V) when K =:= telemetry_interval_ms; K =:= protected_refresh_ms ->
    (is_integer(V) andalso V > 0) orelse invalid(K, V, [pos_integer]);
check_key(K, V) ->
    invalid(K, V, keys()).

%% A map, or a list of pairs (a bare atom is not read as `{Atom, true}':
%% the NIF's environment reader skips it, so it would be silently lost).
each_pair(_Key, V, Check) when is_map(V) ->
    maps:foreach(Check, V);
each_pair(Key, V, Check) when is_list(V) ->
    case lists:all(fun(P) -> is_tuple(P) andalso tuple_size(P) =:= 2 end, V) of
        true -> lists:foreach(fun({K, X}) -> Check(K, X) end, V);
        false -> invalid(Key, V, [map, list_of_pairs])
    end;
each_pair(Key, V, _Check) ->
    invalid(Key, V, [map, list_of_pairs]).

check_switch(Switches, K, V) ->
    case maps:is_key(K, Switches) of
        true -> is_boolean(V) orelse invalid({config, K}, V, [true, false]);
        false -> invalid({config, K}, V, lists:sort(maps:keys(Switches)))
    end.

%% A limit whose default is an atom is a policy (close | drop); the others
%% are 64-bit unsigned integers.
check_limit(Limits, K, V) ->
    case maps:find(K, Limits) of
        {ok, Policy} when is_atom(Policy) ->
            lists:member(V, [close, drop]) orelse invalid({limits, K}, V, [close, drop]);
        {ok, _} ->
            is_u64(V) orelse invalid({limits, K}, V, [non_neg_integer]);
        error ->
            invalid({limits, K}, V, lists:sort(maps:keys(Limits)))
    end.

is_u64(V) ->
    is_integer(V) andalso V >= 0 andalso V < 1 bsl 64.

invalid(Key, Value, Choices) ->
    throw({invalid_config, Key, Value, Choices}).

%%--------------------------------------------------------------------
%% Applying
%%--------------------------------------------------------------------

%% The NIF's defaults, then the environment's settings in their order
%% (safe policy first, explicit entries over it); set what differs.
apply_env() ->
    Defaults = erldist_filter_nif:defaults(),
    Want = lists:foldl(fun want/2, Defaults#{handler => undefined}, erldist_filter_env:settings()),
    #{config := Config, limits := Limits, logger_capacity := Capacity, handler := Handler} = Want,
    Running = erldist_filter_nif:config_get(),
    _ = [ok = erldist_filter_nif:config_set(K, V)
         || {K, V} <- lists:sort(maps:to_list(Config)), maps:get(K, Running) =/= V],
    RunningLimits = erldist_filter_nif:limits_get(),
    _ = [ok = erldist_filter_nif:limits_set(K, V)
         || {K, V} <- lists:sort(maps:to_list(Limits)), maps:get(K, RunningLimits) =/= V],
    %% No getter: set it whatever it was.
    _ = erldist_filter_nif:logger_set_capacity(Capacity),
    case erldist_filter:handler_get() of
        Handler -> ok;
        _ -> _ = erldist_filter:handler_set(Handler), ok
    end,
    #{safe_policy => application:get_env(?APP, safe_policy, false),
      handler => erldist_filter:handler_get(),
      config => erldist_filter_nif:config_get(),
      limits => erldist_filter_nif:limits_get(),
      logger_capacity => Capacity,
      bypass_filter => erldist_filter_env:bypass_filter()}.

want({config, K, V}, #{config := C} = W) -> W#{config := C#{K => V}};
want({limits, K, V}, #{limits := L} = W) -> W#{limits := L#{K => V}};
want({logger_capacity, N}, W) -> W#{logger_capacity := N};
want({handler, M}, W) -> W#{handler := M}.

%%% The application environment takes effect wherever it is set, and a
%%% wrong one stops the application from starting (erldist_filter_config).
%%%
%%% Each case runs a fresh peer node: the NIF there loads with whatever the
%%% environment said then, and the environment changes before the
%%% application starts, as Elixir's config/runtime.exs does.
-module(erldist_filter_config_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0]).
-export([env_set_after_load_applies_at_start/1]).
-export([env_dropped_after_load_is_undone_at_start/1]).
-export([typo_key_stops_start/1]).
-export([safe_policy_yes_stops_start/1]).
-export([bare_atom_config_list_stops_start/1]).
-export([unknown_limit_stops_start/1]).
-export([bad_limit_value_stops_start/1]).
-export([unloadable_handler_stops_start/1]).
-export([reload_applies_set_env_at_run_time/1]).

suite() ->
    [{timetrap, {minutes, 2}}].

all() ->
    [env_set_after_load_applies_at_start, env_dropped_after_load_is_undone_at_start,
     typo_key_stops_start, safe_policy_yes_stops_start, bare_atom_config_list_stops_start,
     unknown_limit_stops_start, bad_limit_value_stops_start, unloadable_handler_stops_start,
     reload_applies_set_env_at_run_time].

%%% Test cases

%% config/runtime.exs: the NIF loaded with nothing, the environment says
%% `safe_policy' afterwards; the start makes it hold.
env_set_after_load_applies_at_start(_Config) ->
    with_peer([], fun(P) ->
        ?assertNot(call(P, erldist_filter_nif, config_get, [deep_packet_inspection])),
        ok = set_env(P, safe_policy, true),
        ok = set_env(P, limits, #{max_sequences => 9}),
        ok = call(P, application, start, [erldist_filter]),
        ?assertEqual(true, call(P, erldist_filter_nif, config_get, [deep_packet_inspection])),
        ?assertEqual(erldist_filter_policy, call(P, erldist_filter, handler_get, [])),
        #{max_new_atoms := SafeAtoms} = call(P, erldist_filter_env, safe_limits, []),
        ?assertEqual(SafeAtoms, call(P, erldist_filter_nif, limits_get, [max_new_atoms])),
        ?assertEqual(9, call(P, erldist_filter_nif, limits_get, [max_sequences])),
        ok
    end).

%% The other way: loaded with the safe policy, the environment no longer
%% asks for it at start; what the NIF runs goes back to its defaults.
env_dropped_after_load_is_undone_at_start(_Config) ->
    with_peer(["-erldist_filter", "safe_policy", "true"], fun(P) ->
        ?assert(call(P, erldist_filter_nif, config_get, [deep_packet_inspection])),
        ok = set_env(P, safe_policy, false),
        ok = call(P, application, start, [erldist_filter]),
        ?assertNot(call(P, erldist_filter_nif, config_get, [deep_packet_inspection])),
        ?assertEqual(undefined, call(P, erldist_filter, handler_get, [])),
        #{limits := #{max_new_atoms := Default}} = call(P, erldist_filter_nif, defaults, []),
        ?assertEqual(Default, call(P, erldist_filter_nif, limits_get, [max_new_atoms])),
        ok
    end).

typo_key_stops_start(_Config) ->
    with_peer([], fun(P) ->
        %% A valid entry beside the typo: nothing is applied.
        ok = set_env(P, config, #{logging => true}),
        ok = set_env(P, safe_polcy, true),
        {invalid_config, safe_polcy, true, Keys} = start_error(P),
        ?assert(lists:member(safe_policy, Keys)),
        ?assertNot(call(P, erldist_filter_nif, config_get, [logging])),
        ok
    end).

%% From the command line, before the NIF loads: the load skips it, the
%% start refuses it.
safe_policy_yes_stops_start(_Config) ->
    with_peer(["-erldist_filter", "safe_policy", "yes"], fun(P) ->
        ?assertEqual({invalid_config, safe_policy, yes, [true, false]}, start_error(P)),
        ok
    end).

%% `config :erldist_filter, config: [:deep_packet_inspection]': the NIF's
%% loader reads pairs only, so this would be lost without a word.
bare_atom_config_list_stops_start(_Config) ->
    with_peer([], fun(P) ->
        ok = set_env(P, config, [deep_packet_inspection, {logging, true}]),
        ?assertEqual({invalid_config, config, [deep_packet_inspection, {logging, true}],
                      [map, list_of_pairs]},
                     start_error(P)),
        ok
    end).

unknown_limit_stops_start(_Config) ->
    with_peer([], fun(P) ->
        ok = set_env(P, limits, [{max_new_atom, 10}]),
        {invalid_config, {limits, max_new_atom}, 10, Limits} = start_error(P),
        ?assert(lists:member(max_new_atoms, Limits)),
        ok
    end).

bad_limit_value_stops_start(_Config) ->
    with_peer([], fun(P) ->
        ok = set_env(P, limits, #{atom_policy => refuse}),
        ?assertEqual({invalid_config, {limits, atom_policy}, refuse, [close, drop]}, start_error(P)),
        ok = set_env(P, limits, #{max_fragments => -1}),
        ?assertEqual({invalid_config, {limits, max_fragments}, -1, [non_neg_integer]}, start_error(P)),
        ok
    end).

%% A handler that cannot load would otherwise fail on the first
%% redirected message, long after start.
unloadable_handler_stops_start(_Config) ->
    with_peer([], fun(P) ->
        ok = set_env(P, handler, my_policy_typo),
        ?assertEqual({invalid_config, handler, my_policy_typo, [undefined, loadable_module]},
                     start_error(P)),
        ok
    end).

%% application:set_env at run time, then config_reload/0; a wrong value
%% changes nothing.
reload_applies_set_env_at_run_time(_Config) ->
    with_peer([], fun(P) ->
        ok = call(P, application, start, [erldist_filter]),
        ok = set_env(P, config, #{logging => true}),
        {ok, #{config := #{logging := true}}} = call(P, erldist_filter, config_reload, []),
        ?assert(call(P, erldist_filter_nif, config_get, [logging])),
        ok = set_env(P, config, #{logging => yes}),
        ?assertEqual({error, {invalid_config, {config, logging}, yes, [true, false]}},
                     call(P, erldist_filter, config_reload, [])),
        ?assert(call(P, erldist_filter_nif, config_get, [logging])),
        ok
    end).

%%% Helpers

%% Run `Test' with a peer whose application and NIF are loaded, the
%% application not started; the peer stops whatever the outcome.
with_peer(Args, Test) ->
    {ok, Peer = #{pid := Pid}} = edf_test_peer:start(#{prefix => "cfg", args => Args}),
    try
        ok = peer:call(Pid, application, load, [erldist_filter]),
        _ = peer:call(Pid, erldist_filter_nif, version, []),
        Test(Pid)
    after
        edf_test_peer:stop(Peer)
    end.

start_error(P) ->
    {error, {Reason, {erldist_filter_app, start, _}}} =
        call(P, application, start, [erldist_filter]),
    Reason.

set_env(P, K, V) ->
    call(P, application, set_env, [erldist_filter, K, V]).

call(P, M, F, A) ->
    peer:call(P, M, F, A).

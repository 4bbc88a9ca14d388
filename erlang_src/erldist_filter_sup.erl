%%% @doc Top supervisor of erldist_filter. It always runs
%%% `erldist_filter_budget', the owner of the spawn-budget concurrency
%%% table, `erldist_filter_telemetry_poller' and `erldist_filter_protected' (the
%%% NIF's list of protected processes). When the application
%%% environment key `enable_erldist_filter' is `true' (the default) it also
%%% runs the routers (`erldist_filter_routers_sup')
%%% that receive redirected distribution operations; otherwise redirected
%%% operations are lost because no process holds the router names. The NIF
%%% itself needs no process; logger pools are added by users to their own
%%% trees.
%%% @hidden Internal to the library, not an API.
-module(erldist_filter_sup).
-behaviour(supervisor).

-export([start_link/0]).
-export([init/1]).

%% @doc Start and register `erldist_filter_sup'.
-spec start_link() -> supervisor:startlink_ret().
start_link() ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, []).

%% @private
-spec init([]) -> {ok, {supervisor:sup_flags(), [supervisor:child_spec()]}}.
init([]) ->
    Routers = case application:get_env(erldist_filter, enable_erldist_filter, true) of
                  true -> [erldist_filter_routers_sup:child_spec()];
                  _ -> []
              end,
    %% The spawn-budget table owner always runs (per-node concurrency), and
    %% so does the telemetry poller (idle while nobody listens).
    %% The protected-process refresher runs last: it asks this supervisor
    %% for its children.
    Children = [erldist_filter_budget:child_spec(), erldist_filter_telemetry_poller:child_spec()
                | Routers] ++ [erldist_filter_protected:child_spec()],
    {ok, {#{strategy => one_for_one, intensity => 1, period => 5}, Children}}.

%%% @doc `erldist_filter_routers_sup': one router supervisor per router
%%% number, 1..Count. Count defaults to the NIF's
%%% (`erldist_filter_nif:router_info()'), which is also what the NIF hashes
%%% node names over, so every router name it redirects to exists.
%%% @hidden Internal to the library, not an API.
-module(erldist_filter_routers_sup).
-behaviour(supervisor).

-export([child_spec/0]).
-export([child_spec/1]).
-export([child_specs/1]).
-export([start_link/0]).
-export([start_link/1]).
-export([sup_flags/0]).
-export([init/1]).

-export_type([router_count/0]).

-type router_count() :: pos_integer().

%% @doc Child spec with the NIF's router count.
-spec child_spec() -> supervisor:child_spec().
child_spec() ->
    child_spec(nif_router_count()).

%% @doc Child spec with an explicit router count.
-spec child_spec(Count :: router_count()) -> supervisor:child_spec().
child_spec(Count) when is_integer(Count), Count >= 1 ->
    #{id => ?MODULE,
      start => {?MODULE, start_link, [Count]},
      restart => permanent,
      shutdown => infinity,
      type => supervisor,
      modules => [?MODULE]}.

%% @doc One router supervisor child spec per router number, in order.
-spec child_specs(Count :: router_count()) -> [supervisor:child_spec()].
child_specs(Count) when is_integer(Count), Count >= 1 ->
    [erldist_filter_router_sup:child_spec(N) || N <- lists:seq(1, Count)].

%% @doc Start with the NIF's router count.
-spec start_link() -> supervisor:startlink_ret().
start_link() ->
    start_link(nif_router_count()).

%% @doc Start with `Count' routers.
-spec start_link(Count :: router_count()) -> supervisor:startlink_ret().
start_link(Count) when is_integer(Count), Count >= 1 ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, Count).

%% @doc one_for_one, at most one restart in five seconds.
-spec sup_flags() -> supervisor:sup_flags().
sup_flags() ->
    #{strategy => one_for_one, intensity => 1, period => 5}.

%% @private
-spec init(router_count()) -> {ok, {supervisor:sup_flags(), [supervisor:child_spec()]}}.
init(Count) ->
    {ok, {sup_flags(), child_specs(Count)}}.

nif_router_count() ->
    #{count := Count} = erldist_filter_nif:router_info(),
    Count.

%%% @doc `erldist_filter_router_<N>_sup': router N and its handler
%%% supervisor. rest_for_one: if the handler supervisor dies, the router
%%% (which holds the workers' pids) restarts with it.
%%% @hidden Internal to the library, not an API.
-module(erldist_filter_router_sup).
-behaviour(supervisor).

-export([child_name/1]).
-export([child_spec/1]).
-export([child_specs/1]).
-export([start_link/2]).
-export([sup_flags/0]).
-export([init/1]).

%% @doc The registered name of router supervisor `RouterNumber'.
-spec child_name(RouterNumber :: pos_integer()) -> atom().
child_name(RouterNumber) when is_integer(RouterNumber), RouterNumber >= 1 ->
    list_to_atom("erldist_filter_router_" ++ integer_to_list(RouterNumber) ++ "_sup").

%% @doc Child spec of router supervisor `RouterNumber'.
-spec child_spec(RouterNumber :: pos_integer()) -> supervisor:child_spec().
child_spec(RouterNumber) when is_integer(RouterNumber), RouterNumber >= 1 ->
    Name = child_name(RouterNumber),
    #{id => Name,
      start => {?MODULE, start_link, [Name, RouterNumber]},
      restart => permanent,
      shutdown => infinity,
      type => supervisor,
      modules => [?MODULE]}.

%% @doc The children, in start order: the handler supervisor, then the
%% router.
-spec child_specs(RouterNumber :: pos_integer()) -> [supervisor:child_spec()].
child_specs(RouterNumber) when is_integer(RouterNumber), RouterNumber >= 1 ->
    [erldist_filter_handler_sup:child_spec(RouterNumber),
     erldist_filter_router:child_spec(RouterNumber)].

%% @doc Start and register the supervisor as `Name'.
-spec start_link(Name :: atom(), RouterNumber :: pos_integer()) -> supervisor:startlink_ret().
start_link(Name, RouterNumber) when is_atom(Name), is_integer(RouterNumber), RouterNumber >= 1 ->
    supervisor:start_link({local, Name}, ?MODULE, RouterNumber).

%% @doc rest_for_one, at most one restart in five seconds.
-spec sup_flags() -> supervisor:sup_flags().
sup_flags() ->
    #{strategy => rest_for_one, intensity => 1, period => 5}.

%% @private
-spec init(pos_integer()) -> {ok, {supervisor:sup_flags(), [supervisor:child_spec()]}}.
init(RouterNumber) ->
    {ok, {sup_flags(), child_specs(RouterNumber)}}.

%%% @doc `erldist_filter_handler_<N>_sup': the handler workers of router N,
%%% one per sending node, started on demand by the router. Workers are
%%% temporary: a dead one is replaced by the next message from its node.
%%% @hidden Internal to the library, not an API.
-module(erldist_filter_handler_sup).
-behaviour(supervisor).

-export([child_name/1]).
-export([child_spec/1]).
-export([child_specs/1]).
-export([start_link/2]).
-export([sup_flags/0]).
-export([init/1]).

%% @doc The registered name of handler supervisor `RouterNumber'.
-spec child_name(RouterNumber :: pos_integer()) -> atom().
child_name(RouterNumber) when is_integer(RouterNumber), RouterNumber >= 1 ->
    list_to_atom("erldist_filter_handler_" ++ integer_to_list(RouterNumber) ++ "_sup").

%% @doc Child spec of handler supervisor `RouterNumber'.
-spec child_spec(RouterNumber :: pos_integer()) -> supervisor:child_spec().
child_spec(RouterNumber) when is_integer(RouterNumber), RouterNumber >= 1 ->
    Name = child_name(RouterNumber),
    #{id => Name,
      start => {?MODULE, start_link, [Name, RouterNumber]},
      restart => permanent,
      shutdown => infinity,
      type => supervisor,
      modules => [?MODULE]}.

%% @doc The template child: a handler worker of router `RouterNumber'.
-spec child_specs(RouterNumber :: pos_integer()) -> [supervisor:child_spec()].
child_specs(RouterNumber) when is_integer(RouterNumber), RouterNumber >= 1 ->
    [erldist_filter_handler:child_spec(RouterNumber)].

%% @doc Start and register the supervisor as `Name'.
-spec start_link(Name :: atom(), RouterNumber :: pos_integer()) -> supervisor:startlink_ret().
start_link(Name, RouterNumber) when is_atom(Name), is_integer(RouterNumber), RouterNumber >= 1 ->
    supervisor:start_link({local, Name}, ?MODULE, RouterNumber).

%% @doc simple_one_for_one; no restarts are ever attempted (temporary
%% children), so the intensity is 0.
-spec sup_flags() -> supervisor:sup_flags().
sup_flags() ->
    #{strategy => simple_one_for_one, intensity => 0, period => 1}.

%% @private
-spec init(pos_integer()) -> {ok, {supervisor:sup_flags(), [supervisor:child_spec()]}}.
init(RouterNumber) ->
    {ok, {sup_flags(), child_specs(RouterNumber)}}.

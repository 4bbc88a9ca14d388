%%% @doc A pool of logger workers for one handler module, registered as
%%% `erldist_filter_logger_sup' (one pool per node). Not started by the
%%% application: add {@link child_spec/3} to your own supervision tree.
-module(erldist_filter_logger_sup).
-behaviour(supervisor).

-export([child_spec/3]).
-export([child_specs/3]).
-export([start_link/3]).
-export([init/1]).

-export_type([worker_count/0]).

-type worker_count() :: non_neg_integer().

%% @doc Child spec of the pool: `WorkerCount' workers (0 = none) running
%% `Handler' with `HandlerOptions'.
-spec child_spec(Handler :: module(), HandlerOptions :: erldist_filter_logger:handler_options(),
                 WorkerCount :: worker_count()) -> supervisor:child_spec().
child_spec(Handler, HandlerOptions, WorkerCount)
  when is_atom(Handler), is_integer(WorkerCount), WorkerCount >= 0 ->
    #{id => ?MODULE,
      start => {?MODULE, start_link, [Handler, HandlerOptions, WorkerCount]},
      restart => permanent,
      shutdown => infinity,
      type => supervisor,
      modules => [?MODULE]}.

%% @doc The workers' child specs, numbers 1..WorkerCount in order.
-spec child_specs(Handler :: module(), HandlerOptions :: erldist_filter_logger:handler_options(),
                  WorkerCount :: worker_count()) -> [supervisor:child_spec()].
child_specs(Handler, HandlerOptions, WorkerCount)
  when is_atom(Handler), is_integer(WorkerCount), WorkerCount >= 0 ->
    [erldist_filter_logger:child_spec(Handler, HandlerOptions, N) || N <- lists:seq(1, WorkerCount)].

%% @doc Start the pool, registered as `erldist_filter_logger_sup'.
-spec start_link(Handler :: module(), HandlerOptions :: erldist_filter_logger:handler_options(),
                 WorkerCount :: worker_count()) -> supervisor:startlink_ret().
start_link(Handler, HandlerOptions, WorkerCount)
  when is_atom(Handler), is_integer(WorkerCount), WorkerCount >= 0 ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, {Handler, HandlerOptions, WorkerCount}).

%% @private
-spec init({module(), term(), worker_count()}) ->
    {ok, {supervisor:sup_flags(), [supervisor:child_spec()]}}.
init({Handler, HandlerOptions, WorkerCount}) ->
    {ok, {#{strategy => one_for_one, intensity => 1, period => 5},
          child_specs(Handler, HandlerOptions, WorkerCount)}}.

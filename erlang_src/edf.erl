%%% @doc Entry point of every spawn request the filter inspected.
%%%
%%% The NIF rewrites a remote `SPAWN_REQUEST' for `Module:FunctionName/Arity'
%%% into one for `edf:req(Sysname, {Module, FunctionName, Arity},
%%% Arguments)', so the new process starts here. With a handler module set
%%% ({@link erldist_filter:handler_set/1}) the process runs the handler's
%%% `spawn_request_init/4' instead of the requested function; without one
%%% it runs the requested function unchanged. The spawn reply was already
%%% sent when the process started: refusing means exiting or returning
%%% something else.
%%%
%%% Either way the work runs under the spawn budget that applies to the
%%% sending node and function ({@link erldist_filter_budget}): with any
%%% finite limit it runs in a worker process this one watches and proxies
%%% for, and over budget this process exits `{budget_exceeded, Kind}'.
-module(edf).

-export([req/3]).

%% @doc Run a redirected spawn request from node `Sysname'. The argument
%% count must match `Arity' (else `function_clause', which ends the
%% process).
-spec req(Sysname :: node(), {Module :: module(), FunctionName :: atom(), Arity :: arity()},
          Arguments :: [term()]) -> term().
req(Sysname, {Module, FunctionName, Arity}, Arguments)
  when is_atom(Sysname), is_atom(Module), is_atom(FunctionName), is_integer(Arity),
       is_list(Arguments), length(Arguments) =:= Arity ->
    erldist_filter_budget:run(Sysname, {Module, FunctionName, Arity}, Arguments,
                              fun() -> run(Sysname, Module, FunctionName, Arguments) end).

run(Sysname, Module, FunctionName, Arguments) ->
    case erldist_filter:handler_get() of
        undefined -> erlang:apply(Module, FunctionName, Arguments);
        Handler -> Handler:spawn_request_init(Sysname, Module, FunctionName, Arguments)
    end.

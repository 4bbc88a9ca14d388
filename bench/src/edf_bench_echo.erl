%% @doc The end-to-end benchmark's `gen_server': replies with what it gets.
-module(edf_bench_echo).
-behaviour(gen_server).

-export([start/0]).
-export([init/1]).
-export([handle_call/3]).
-export([handle_cast/2]).

-spec start() -> pid().
start() ->
    {ok, Pid} = gen_server:start(?MODULE, [], []),
    Pid.

-spec init([]) -> {ok, []}.
init([]) ->
    {ok, []}.

-spec handle_call(term(), gen_server:from(), []) -> {reply, term(), []}.
handle_call(Request, _From, State) ->
    {reply, Request, State}.

-spec handle_cast(term(), []) -> {noreply, []}.
handle_cast(_Request, State) ->
    {noreply, State}.

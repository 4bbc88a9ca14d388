%% @doc The erldist_filter application: starts the top supervisor.
-module(erldist_filter_app).
-behaviour(application).

-export([start/2]).
-export([stop/1]).

%% @private
-spec start(application:start_type(), term()) -> {ok, pid()} | {error, term()}.
start(_Type, _Args) ->
    erldist_filter_sup:start_link().

%% @private
-spec stop(term()) -> ok.
stop(_State) ->
    ok.

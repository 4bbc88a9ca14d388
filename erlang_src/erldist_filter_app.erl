%% @doc The erldist_filter application: checks and applies the application
%% environment (`erldist_filter_config'), then starts the top supervisor.
%% A wrong environment stops the start: the node must not run unprotected
%% while its configuration says otherwise.
%% @hidden Internal to the library, not an API.
-module(erldist_filter_app).
-behaviour(application).

-export([start/2]).
-export([stop/1]).

%% @private
-spec start(application:start_type(), term()) -> {ok, pid()} | {error, term()}.
start(_Type, _Args) ->
    %% First, so that the lines below reach a plain node's default handler.
    ok = erldist_filter_default_handler:ensure_visible(),
    %% Checks, applies and logs (what is in force, or why it refuses).
    case erldist_filter:config_reload() of
        {ok, _InForce} -> erldist_filter_sup:start_link();
        {error, _} = Error -> Error
    end.

%% @private
-spec stop(term()) -> ok.
stop(_State) ->
    ok.

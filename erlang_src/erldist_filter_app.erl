%% @doc The erldist_filter application: checks and applies the application
%% environment (`erldist_filter_config'), then starts the top supervisor.
%% A wrong environment stops the start: the node must not run unprotected
%% while its configuration says otherwise.
%% @hidden Internal to the library, not an API.
-module(erldist_filter_app).
-behaviour(application).

-include_lib("kernel/include/logger.hrl").

-export([start/2]).
-export([stop/1]).

%% @private
-spec start(application:start_type(), term()) -> {ok, pid()} | {error, term()}.
start(_Type, _Args) ->
    %% First, so that the lines below reach a plain node's default handler.
    ok = erldist_filter_default_handler:ensure_visible(),
    case erldist_filter_config:reload() of
        {ok, InForce} ->
            ?LOG_NOTICE("~ts", [erldist_filter_config:format(InForce)], #{domain => [erldist_filter]}),
            erldist_filter_sup:start_link();
        {error, Reason} = Error ->
            ?LOG_ERROR("erldist_filter not started, bad configuration: ~0tp", [Reason],
                       #{domain => [erldist_filter]}),
            Error
    end.

%% @private
-spec stop(term()) -> ok.
stop(_State) ->
    ok.

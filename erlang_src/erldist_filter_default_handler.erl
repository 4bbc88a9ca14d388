%%% @doc Makes the library's reports reach OTP's default logger handler.
%%%
%%% Every report of the library has domain `[erldist_filter]', so that it
%%% can be filtered as one. But on a plain Erlang node the `default'
%%% handler (logger_std_h) is added with `filter_default => stop' and a
%%% `domain' filter that logs only events whose domain is a prefix of
%%% `[otp, sasl]' (`[]', `[otp]', `[otp, sasl]') or that have none (kernel's
%%% logger_internal.hrl, DEFAULT_HANDLER_FILTERS): our warnings and errors
%%% were dropped without a trace. At application start we add one filter to
%%% that handler, `erldist_filter', that logs our warnings and errors
%%% (domain `[erldist_filter | _]', level `warning' or worse) and the
%%% configuration lines (domain `[erldist_filter, config]': what is in
%%% force, at notice). The policy's notices (one per operation it keeps)
%%% stay out: on a console they would bury everything else.
%%%
%%% Reports logged before the application has started (a refusal on a
%%% connection made during boot) would miss that filter: the places that
%%% log warnings call `early/0', which adds it until the start has (once
%%% the start has run, removing the filter is the user's choice). During
%%% kernel's own start (the carrier listens then) there is no `default'
%%% handler yet but kernel's `simple' one, which prints at once, in the
%%% same format, through the same filters: the filter goes there. (When
%%% kernel then adds `default', it replays what `simple' saw through the
%%% default filters only, so nothing is printed twice.)
%%%
%%% Elixir's Logger replaces the default handler with its own, which logs
%%% every domain: nothing to do there. Opt out with the application
%%% environment `{log_to_default_handler, false}', or remove the filter:
%%% `logger:remove_handler_filter(default, erldist_filter)'.
%%% @hidden Internal to the library, not an API.
-module(erldist_filter_default_handler).

-export([ensure_visible/0]).
-export([early/0]).
-export([filter/2]).

-define(FILTER, {fun ?MODULE:filter/2, []}).

%% @doc Add the filter to handler `default' when it exists and lacks it.
%% Called at application start; from then on `early/0' does nothing.
-spec ensure_visible() -> ok.
ensure_visible() ->
    ok = persistent_term:put({?MODULE, started}, true),
    maybe_add_filter().

%% @doc Before the application has started: as `ensure_visible/0'. Never
%% fails (it runs on the paths that log refusals).
-spec early() -> ok.
early() ->
    case persistent_term:get({?MODULE, started}, false) of
        true -> ok;
        false ->
            try maybe_add_filter()
            catch _:_ -> ok
            end
    end.

maybe_add_filter() ->
    case application:get_env(erldist_filter, log_to_default_handler, true) of
        false -> ok;
        _ -> add_filter()     % a wrong value is reported by erldist_filter_config
    end.

add_filter() ->
    case add_filter(default) of
        {error, {not_found, default}} -> add_filter(simple);
        ok -> ok
    end.

add_filter(Handler) ->
    case logger:get_handler_config(Handler) of
        {ok, #{filters := Filters}} ->
            case lists:keymember(erldist_filter, 1, Filters) of
                true -> ok;
                false -> add_filter_result(logger:add_handler_filter(Handler, erldist_filter, ?FILTER))
            end;
        {error, {not_found, simple}} ->
            ok;
        {error, {not_found, default}} = NotFound ->
            NotFound
    end.

%% Another process may have added it in between.
add_filter_result(ok) -> ok;
add_filter_result({error, {already_exist, erldist_filter}}) -> ok.

%% @private The handler filter: log (return the event) or leave the decision
%% to the other filters (`ignore'; the default handler then stops it).
-spec filter(logger:log_event(), []) -> logger:filter_return().
filter(#{meta := #{domain := [erldist_filter, config | _]}} = Event, _) ->
    Event;
filter(#{level := Level, meta := #{domain := [erldist_filter | _]}} = Event, _) ->
    case logger:compare_levels(Level, warning) of
        lt -> ignore;
        _ -> Event
    end;
filter(_Event, _) ->
    ignore.

%%% @doc Events in the `telemetry' shape, without depending on it.
%%%
%%% Handlers are attached with {@link attach/4} or {@link attach_many/4}
%%% and called, in the process that emits the event, as
%%% `Fun(EventName, Measurements, Metadata, Config)'. When the `telemetry'
%%% library is loaded, every event is also passed to
%%% `telemetry:execute/3', so `telemetry' handlers (and reporters built on
%%% it) see them too.
%%%
%%% == Events ==
%%% Every measurement map has `count'. Every metadata map has `node' (the
%%% remote node the fact is about).
%%% <ul>
%%% <li>`[erldist_filter, message, dropped]' and
%%%     `[erldist_filter, message, redirected]': messages the filter dropped
%%%     or sent to the handler since the last sample (the NIF's per-channel
%%%     `drop_count' / `redirect_count', sampled by
%%%     `erldist_filter_telemetry_poller', by default every second).</li>
%%% <li>`[erldist_filter, limit, hit]': a limit was reached; metadata
%%%     `limit' (its name, e.g. `max_packet_len', or `rate' for messages
%%%     dropped by `rate_policy => drop') and `action' (`close' or `drop').</li>
%%% <li>`[erldist_filter, connection, closed]': the carrier closed a
%%%     connection because the filter refused its input; metadata `reason'
%%%     (`{erldist_filter, Kind, Info}' or another error).</li>
%%% <li>`[erldist_filter, budget, exceeded]': a remote spawn went over its
%%%     budget; metadata `mfa', `kind', `limit', `used'.</li>
%%% <li>`[erldist_filter, logger, dropped]': the NIF's logger queue lost
%%%     `count' events (metadata `node' is `undefined': the queue is
%%%     global).</li>
%%% </ul>
%%%
%%% == Cost ==
%%% Emitting with nothing attached and `telemetry' absent is one
%%% `persistent_term' read. Handlers live in a `persistent_term' as well,
%%% so attaching and detaching are for setup, not for every request.
%%% A handler that raises is detached (and logged), as in `telemetry'.
-module(erldist_filter_telemetry).

-include_lib("kernel/include/logger.hrl").

-export([attach/4]).
-export([attach_many/4]).
-export([detach/1]).
-export([list_handlers/0]).
-export([execute/3]).
-export([enabled/0]).
-export([refresh_forwarding/0]).
-export([events/0]).

-export_type([event_name/0, handler_id/0, handler_fun/0]).

-type event_name() :: [atom(), ...].
-type handler_id() :: term().
-type handler_fun() :: fun((event_name(), map(), map(), term()) -> any()).

-define(KEY, ?MODULE).

%% What `execute/3' reads: the handlers, and whether to forward to `telemetry'.
-record(state, {handlers = [] :: [{handler_id(), [event_name()], handler_fun(), term()}],
                forward = false :: boolean()}).

%% @doc Call `Fun(EventName, Measurements, Metadata, Config)' for every
%% `EventName' emitted. `{error, already_exists}' when `Id' is taken.
-spec attach(handler_id(), event_name(), handler_fun(), term()) -> ok | {error, already_exists}.
attach(Id, EventName = [_ | _], Fun, Config) ->
    attach_many(Id, [EventName], Fun, Config).

%% @doc {@link attach/4} for several event names at once.
-spec attach_many(handler_id(), [event_name()], handler_fun(), term()) -> ok | {error, already_exists}.
attach_many(Id, EventNames, Fun, Config) when is_list(EventNames), is_function(Fun, 4) ->
    true = lists:all(fun(E) -> is_list(E) andalso E =/= [] end, EventNames),
    #state{handlers = Handlers} = State = state(),
    case lists:keymember(Id, 1, Handlers) of
        true -> {error, already_exists};
        false -> put_state(State#state{handlers = [{Id, EventNames, Fun, Config} | Handlers]})
    end.

%% @doc Detach handler `Id'.
-spec detach(handler_id()) -> ok | {error, not_found}.
detach(Id) ->
    #state{handlers = Handlers} = State = state(),
    case lists:keymember(Id, 1, Handlers) of
        true -> put_state(State#state{handlers = lists:keydelete(Id, 1, Handlers)});
        false -> {error, not_found}
    end.

%% @doc The attached handlers as `{Id, EventNames, Fun, Config}'.
-spec list_handlers() -> [{handler_id(), [event_name()], handler_fun(), term()}].
list_handlers() ->
    (state())#state.handlers.

%% @doc Emit an event. With no handler and no `telemetry' this is one
%% `persistent_term' read.
-spec execute(event_name(), #{atom() => number()}, map()) -> ok.
execute(EventName, Measurements, Metadata) ->
    case state() of
        #state{handlers = [], forward = false} ->
            ok;
        #state{handlers = Handlers, forward = Forward} ->
            [call(H, EventName, Measurements, Metadata)
             || H = {_, Names, _, _} <- Handlers, lists:member(EventName, Names)],
            Forward andalso forward(EventName, Measurements, Metadata),
            ok
    end.

%% @doc Whether anyone listens: a handler is attached or `telemetry' is
%% loaded. Emitters that must compute something first check this.
-spec enabled() -> boolean().
enabled() ->
    case state() of
        #state{handlers = [], forward = false} -> false;
        _ -> true
    end.

%% @doc Forward to `telemetry' when it is loaded (checked here, at every
%% attach and detach, and by the poller at every sample).
-spec refresh_forwarding() -> ok.
refresh_forwarding() ->
    State = state(),
    case State#state.forward =:= telemetry_loaded() of
        true -> ok;
        false -> put_state(State)
    end.

%% @doc Every event name this library emits.
-spec events() -> [event_name()].
events() ->
    [[erldist_filter, message, dropped], [erldist_filter, message, redirected],
     [erldist_filter, limit, hit], [erldist_filter, connection, closed],
     [erldist_filter, budget, exceeded], [erldist_filter, logger, dropped]].

%%% Internal

state() ->
    persistent_term:get(?KEY, #state{}).

%% A persistent_term update is global work: skip it when nothing changed.
put_state(State0) ->
    State = State0#state{forward = telemetry_loaded()},
    case state() of
        State -> ok;
        _ when State =:= #state{} -> _ = persistent_term:erase(?KEY), ok;
        _ -> persistent_term:put(?KEY, State)
    end.

telemetry_loaded() ->
    erlang:function_exported(telemetry, execute, 3).

call(Handler = {Id, _, Fun, Config}, EventName, Measurements, Metadata) ->
    try
        Fun(EventName, Measurements, Metadata, Config)
    catch
        Class:Reason:Stack ->
            ?LOG_ERROR(#{what => telemetry_handler_failed, handler => Id, event => EventName,
                         class => Class, reason => Reason, stacktrace => Stack},
                       #{domain => [erldist_filter]}),
            _ = detach_failed(Handler)
    end.

%% Only this exact handler: it may have been replaced meanwhile.
detach_failed(Handler = {Id, _, _, _}) ->
    State = #state{handlers = Handlers} = state(),
    case lists:member(Handler, Handlers) of
        true -> put_state(State#state{handlers = lists:keydelete(Id, 1, Handlers)});
        false -> ok
    end.

%% Through apply/3: `telemetry' is optional, so no static call to it.
forward(EventName, Measurements, Metadata) ->
    try
        erlang:apply(telemetry, execute, [EventName, Measurements, Metadata])
    catch
        _:_ -> ok
    end.

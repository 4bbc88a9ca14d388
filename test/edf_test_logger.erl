%%% A logger like the talk's `MyDistLogger': keeps every event (control
%%% cast with `udist:cast_to_dop/1') in a queue; `export/1' takes them,
%%% `await/3' waits until a predicate over them holds.
-module(edf_test_logger).
-behaviour(erldist_filter_logger).

-export([init/2]).
-export([handle_batch/4]).
-export([handle_control_event/4]).
-export([handle_payload_event/5]).
-export([handle_info/2]).
-export([export/1]).
-export([await/3]).

-define(CALL, '$erldist_filter_logger_call').

-spec init(term(), pos_integer()) -> {ok, map()}.
init(_HandlerOptions, _WorkerNumber) ->
    {ok, #{events => queue:new(), waiting => []}}.

-spec handle_batch(non_neg_integer(), non_neg_integer(), list(), map()) -> {handle_events, list(), map()}.
handle_batch(_Size, _Drop, Events, State) ->
    {handle_events, Events, State}.

-spec handle_control_event(integer(), node(), tuple(), map()) -> {cont, map()}.
handle_control_event(Time, Sysname, Control, State) ->
    {cont, add({Time, Sysname, udist:cast_to_dop(Control)}, State)}.

-spec handle_payload_event(integer(), node(), tuple(), term(), map()) -> {cont, map()}.
handle_payload_event(Time, Sysname, Control, Payload, State) ->
    {cont, add({Time, Sysname, udist:cast_to_dop(Control), Payload}, State)}.

-spec handle_info(term(), map()) -> {cont, map()}.
handle_info({?CALL, From, export}, State = #{events := Events}) ->
    ok = gen:reply(From, queue:to_list(Events)),
    {cont, State#{events := queue:new()}};
handle_info({?CALL, From, {await, Pred}}, State = #{waiting := Waiting}) ->
    {cont, check(State#{waiting := [{From, Pred} | Waiting]})};
handle_info(_Info, State) ->
    {cont, State}.

%% Take the events of worker `WorkerNumber' so far.
-spec export(pos_integer()) -> list().
export(WorkerNumber) ->
    {ok, Events} = gen:call(erldist_filter_logger:child_name(?MODULE, WorkerNumber), ?CALL, export),
    Events.

%% The events of worker `WorkerNumber' (not taken) once `Pred' holds for
%% them; exits on timeout.
-spec await(pos_integer(), fun((list()) -> boolean()), timeout()) -> list().
await(WorkerNumber, Pred, Timeout) ->
    {ok, Events} = gen:call(erldist_filter_logger:child_name(?MODULE, WorkerNumber), ?CALL,
                            {await, Pred}, Timeout),
    Events.

add(Event, State = #{events := Events}) ->
    check(State#{events := queue:in(Event, Events)}).

check(State = #{events := Events, waiting := Waiting}) ->
    List = queue:to_list(Events),
    Left = [W || W = {From, Pred} <- Waiting,
                 not (Pred(List) andalso begin gen:reply(From, List), true end)],
    State#{waiting := Left}.

%%% @doc Logger behaviour and worker: consume the NIF's queue of logged
%%% distribution messages.
%%%
%%% With `deep_packet_inspection' and `logging' on, the NIF copies each
%%% message it flags for logging into one global, bounded queue (oldest
%%% events are dropped and counted when full; see
%%% `erldist_filter_nif:logger_set_capacity/1'). Workers (usually started
%%% by {@link erldist_filter_logger_sup}) take it in batches and hand the
%%% events to the user's callback module. Logging is lossy and not ordered
%%% with the messages' delivery.
%%%
%%% == Callbacks ==
%%% <ul>
%%% <li>`init(HandlerOptions, WorkerNumber)' → `{ok, State} | ignore |
%%%     {stop, Reason}'.</li>
%%% <li>`handle_batch(Size, Drop, Events, State)': `Size' events received,
%%%     `Drop' lost since the last batch. Returns `handle_events' (process
%%%     `Events'), `{handle_events, NewEvents}', `{handle_events, NewEvents,
%%%     NewState}', `stop', `{stop, Reason}' or `{stop, Reason, NewState}'.</li>
%%% <li>`handle_control_event(Time, Sysname, Control, State)' and
%%%     `handle_payload_event(Time, Sysname, Control, Payload, State)' for
%%%     each event: `Control' is the raw control tuple (apply
%%%     `udist:cast_to_dop/1'), `Payload' the decoded message. They return
%%%     `cont | {cont, NewState} | stop | {stop, Reason} | {stop, Reason,
%%%     NewState}'.</li>
%%% <li>optional `handle_info(Info, State)' (same returns) for other
%%%     messages, e.g. `{'$erldist_filter_logger_call', From, Request}' sent
%%%     by `gen:call(Name, '$erldist_filter_logger_call', Request)', answered
%%%     with `gen:reply(From, Reply)';</li>
%%% <li>optional `terminate(Reason, State)'.</li>
%%% </ul>
%%%
%%% == States ==
%%% `recv' takes a batch (`logger_recv') and feeds its events one by one;
%%% an empty queue moves to `wait', which returns to `recv' when the NIF
%%% signals new events.
-module(erldist_filter_logger).
-behaviour(gen_statem).

-include_lib("kernel/include/logger.hrl").

-export([child_name/2]).
-export([child_spec/3]).
-export([start_link/4]).
%% gen_statem
-export([callback_mode/0]).
-export([init/1]).
-export([recv/3]).
-export([wait/3]).
-export([terminate/3]).

-export_type([event/0]).
-export_type([handler_options/0]).
-export_type([worker_number/0]).
-export_type([event_result/1]).

-type worker_number() :: pos_integer().
-type handler_options() :: term().
-type event() :: {Time :: integer(),
                  {Sysname :: node(), Atoms :: tuple(), Control :: binary(),
                   Payload :: binary() | undefined}}.
-type event_result(State) :: cont | {cont, State} | stop | {stop, Reason :: term()}
                           | {stop, Reason :: term(), State}.

-callback init(HandlerOptions :: handler_options(), WorkerNumber :: worker_number()) ->
    {ok, State :: term()} | ignore | {stop, Reason :: term()}.
-callback handle_batch(Size :: non_neg_integer(), Drop :: non_neg_integer(), Events :: [event()],
                       State :: term()) ->
    handle_events | {handle_events, NewEvents :: [event()]}
  | {handle_events, NewEvents :: [event()], NewState :: term()}
  | stop | {stop, Reason :: term()} | {stop, Reason :: term(), NewState :: term()}.
-callback handle_control_event(Time :: integer(), Sysname :: node(), Control :: tuple(),
                               State :: term()) ->
    event_result(term()).
-callback handle_payload_event(Time :: integer(), Sysname :: node(), Control :: tuple(),
                               Payload :: term(), State :: term()) ->
    event_result(term()).
-callback handle_info(Info :: term(), State :: term()) -> event_result(term()).
-callback terminate(Reason :: term(), State :: term()) -> term().
-optional_callbacks([handle_info/2, terminate/2]).

-record(data, {handler :: module(),
               handler_state :: term(),
               worker_number :: worker_number(),
               logger :: term(),
               select = undefined :: undefined | reference()}).

%% @doc The registered name of worker `WorkerNumber' of `Handler':
%% `erldist_filter_logger_<Handler>_<WorkerNumber>'.
-spec child_name(Handler :: module(), WorkerNumber :: worker_number()) -> atom().
child_name(Handler, WorkerNumber) when is_atom(Handler), is_integer(WorkerNumber), WorkerNumber >= 1 ->
    list_to_atom("erldist_filter_logger_" ++ atom_to_list(Handler) ++ "_"
                 ++ integer_to_list(WorkerNumber)).

%% @doc Child spec of worker `WorkerNumber' of `Handler'.
-spec child_spec(Handler :: module(), HandlerOptions :: handler_options(),
                 WorkerNumber :: worker_number()) -> supervisor:child_spec().
child_spec(Handler, HandlerOptions, WorkerNumber)
  when is_atom(Handler), is_integer(WorkerNumber), WorkerNumber >= 1 ->
    Name = child_name(Handler, WorkerNumber),
    #{id => Name,
      start => {?MODULE, start_link, [{local, Name}, Handler, HandlerOptions, WorkerNumber]},
      restart => permanent,
      shutdown => 5000,
      type => worker,
      modules => [?MODULE, Handler]}.

%% @doc Start a worker. It opens (and owns) a NIF logger after
%% `Handler:init/2' returned `{ok, State}'.
-spec start_link(ServerName :: gen_statem:server_name(), Handler :: module(),
                 HandlerOptions :: handler_options(), WorkerNumber :: worker_number()) ->
    gen_statem:start_ret().
start_link(ServerName, Handler, HandlerOptions, WorkerNumber)
  when is_atom(Handler), is_integer(WorkerNumber), WorkerNumber >= 1 ->
    gen_statem:start_link(ServerName, ?MODULE, {Handler, HandlerOptions, WorkerNumber}, []).

%%% gen_statem

%% @private
-spec callback_mode() -> gen_statem:callback_mode_result().
callback_mode() ->
    [state_functions, state_enter].

%% @private
-spec init({module(), handler_options(), worker_number()}) ->
    gen_statem:init_result(recv) | ignore | {stop, term()}.
init({Handler, HandlerOptions, WorkerNumber}) ->
    _ = code:ensure_loaded(Handler),
    case Handler:init(HandlerOptions, WorkerNumber) of
        {ok, HState} ->
            Logger = erldist_filter_nif:logger_open(),
            {ok, recv, #data{handler = Handler, handler_state = HState,
                             worker_number = WorkerNumber, logger = Logger}};
        ignore ->
            ignore;
        {stop, Reason} ->
            {stop, Reason}
    end.

%% @private Take a batch and feed its events.
-spec recv(gen_statem:event_type(), term(), #data{}) -> gen_statem:event_handler_result(recv | wait).
recv(enter, _OldState, _Data) ->
    {keep_state_and_data, [{state_timeout, 0, recv}]};
recv(state_timeout, recv, Data) ->
    receive_batch(Data);
recv(internal, recv, Data) ->
    receive_batch(Data);
recv(internal, {event, Event}, Data) ->
    handle_event(Event, Data);
recv(info, {'$logger', Logger, select, _Ref}, #data{logger = Logger}) ->
    keep_state_and_data;
recv(info, Info, Data) ->
    handle_info(Info, Data);
recv(_EventType, _Event, _Data) ->
    keep_state_and_data.

%% @private Wait for the NIF to signal new events.
-spec wait(gen_statem:event_type(), term(), #data{}) -> gen_statem:event_handler_result(recv | wait).
wait(enter, _OldState, _Data) ->
    keep_state_and_data;
wait(info, {'$logger', Logger, select, Ref}, Data = #data{logger = Logger, select = Ref}) ->
    {next_state, recv, Data#data{select = undefined}};
wait(info, {'$logger', Logger, select, _OtherRef}, #data{logger = Logger}) ->
    keep_state_and_data;
wait(info, Info, Data) ->
    handle_info(Info, Data);
wait(_EventType, _Event, _Data) ->
    keep_state_and_data.

%% @private
-spec terminate(term(), atom(), #data{}) -> any().
terminate(Reason, _State, #data{handler = Handler, handler_state = HState, logger = Logger}) ->
    try erldist_filter_nif:logger_close(Logger)
    catch error:_ -> ok
    end,
    case erlang:function_exported(Handler, terminate, 2) of
        true -> Handler:terminate(Reason, HState);
        false -> ok
    end.

%%% Internal

receive_batch(Data = #data{logger = Logger, handler = Handler, handler_state = HState}) ->
    case erldist_filter_nif:logger_recv(Logger) of
        {Size, Drop, Events} when is_integer(Size), is_integer(Drop), is_list(Events) ->
            Drop > 0 andalso erldist_filter_telemetry:execute([erldist_filter, logger, dropped],
                                                              #{count => Drop}, #{node => undefined}),
            case Handler:handle_batch(Size, Drop, Events, HState) of
                handle_events -> feed(Events, Data);
                {handle_events, NewEvents} -> feed(NewEvents, Data);
                {handle_events, NewEvents, HState1} -> feed(NewEvents, Data#data{handler_state = HState1});
                stop -> {stop, normal};
                {stop, Reason} -> {stop, Reason};
                {stop, Reason, HState1} -> {stop, Reason, Data#data{handler_state = HState1}}
            end;
        {select, Ref} ->
            {next_state, wait, Data#data{select = Ref}};
        {error, Reason} ->
            {stop, Reason}
    end.

feed(Events, Data) ->
    {keep_state, Data, [{next_event, internal, {event, E}} || E <- Events]
                       ++ [{next_event, internal, recv}]}.

handle_event({Time, {Sysname, Atoms, ControlBin, PayloadBin}},
             Data = #data{handler = Handler, handler_state = HState}) ->
    try
        Control = decode(Atoms, ControlBin),
        case PayloadBin of
            undefined -> {ok, Control, none};
            _ -> {ok, Control, {some, decode(Atoms, PayloadBin)}}
        end
    of
        {ok, Ctl, none} ->
            result(Handler:handle_control_event(Time, Sysname, Ctl, HState), Data);
        {ok, Ctl, {some, Payload}} ->
            result(Handler:handle_payload_event(Time, Sysname, Ctl, Payload, HState), Data)
    catch
        error:Reason ->
            ?LOG_WARNING(#{what => logger_event_undecodable, sysname => Sysname, reason => Reason},
                         #{domain => [erldist_filter]}),
            keep_state_and_data
    end;
handle_event(Other, _Data) ->
    ?LOG_WARNING(#{what => logger_event_unexpected, event => Other}, #{domain => [erldist_filter]}),
    keep_state_and_data.

handle_info(Info, Data = #data{handler = Handler, handler_state = HState}) ->
    case erlang:function_exported(Handler, handle_info, 2) of
        true -> result(Handler:handle_info(Info, HState), Data);
        false -> keep_state_and_data
    end.

result(cont, _Data) -> keep_state_and_data;
result({cont, HState}, Data) -> {keep_state, Data#data{handler_state = HState}};
result(stop, _Data) -> {stop, normal};
result({stop, Reason}, _Data) -> {stop, Reason};
result({stop, Reason, HState}, Data) -> {stop, Reason, Data#data{handler_state = HState}}.

decode(Atoms, Bin) ->
    case erlang:function_exported(erldist_filter_nif, dist_ext_to_term, 2) of
        true -> erldist_filter_nif:dist_ext_to_term(Atoms, Bin);
        false -> erts_debug:dist_ext_to_term(Atoms, Bin)
    end.

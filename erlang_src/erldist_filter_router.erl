%%% @doc `erldist_filter_router_<N>': receives the operations the NIF
%%% redirected from the nodes whose name hashes to N
%%% (`erldist_filter_nif:router_name/1') and forwards each, unchanged and in
%%% order, to the handler worker of its node, starting one when needed.
%%%
%%% Messages are `{Sysname, Sort, Control}' or `{Sysname, Sort, Control,
%%% Payload}'. Unlike the C NIF's router this one never crashes on what it
%%% receives: a message for a node that does not hash to this router
%%% (forged by local code) and anything else unexpected are logged and
%%% ignored.
%%% @hidden Internal to the library, not an API.
-module(erldist_filter_router).
-behaviour(gen_statem).

-include_lib("kernel/include/logger.hrl").

-export([child_name/1]).
-export([child_spec/1]).
-export([start_link/2]).
%% gen_statem
-export([callback_mode/0]).
-export([init/1]).
-export([route/3]).

-record(data, {number :: pos_integer(),
               name :: atom(),
               handler_sup :: atom(),
               handlers = #{} :: #{node() => {pid(), reference()}},
               monitors = #{} :: #{reference() => node()}}).

%% @doc The registered name of router `RouterNumber' (as the NIF names it).
-spec child_name(RouterNumber :: pos_integer()) -> atom().
child_name(RouterNumber) when is_integer(RouterNumber), RouterNumber >= 1 ->
    list_to_atom("erldist_filter_router_" ++ integer_to_list(RouterNumber)).

%% @doc Child spec of router `RouterNumber'.
-spec child_spec(RouterNumber :: pos_integer()) -> supervisor:child_spec().
child_spec(RouterNumber) when is_integer(RouterNumber), RouterNumber >= 1 ->
    Name = child_name(RouterNumber),
    #{id => Name,
      start => {?MODULE, start_link, [Name, RouterNumber]},
      restart => permanent,
      shutdown => 5000,
      type => worker,
      modules => [?MODULE]}.

%% @doc Start router `RouterNumber' registered as `Name'.
-spec start_link(Name :: atom(), RouterNumber :: pos_integer()) -> gen_statem:start_ret().
start_link(Name, RouterNumber) when is_atom(Name), is_integer(RouterNumber), RouterNumber >= 1 ->
    %% Off-heap message queue: a flood of redirected messages waits outside
    %% the heap, so it neither grows the heap nor makes each GC copy it.
    gen_statem:start_link({local, Name}, ?MODULE, {Name, RouterNumber},
                          [{hibernate_after, 5000}, {spawn_opt, [{message_queue_data, off_heap}]}]).

%%% gen_statem

%% @private
-spec callback_mode() -> gen_statem:callback_mode_result().
callback_mode() ->
    state_functions.

%% @private
-spec init({atom(), pos_integer()}) -> gen_statem:init_result(route).
init({Name, RouterNumber}) ->
    {ok, route, #data{number = RouterNumber, name = Name,
                      handler_sup = erldist_filter_handler_sup:child_name(RouterNumber)}}.

%% @private The only state.
-spec route(gen_statem:event_type(), term(), #data{}) -> gen_statem:event_handler_result(route).
route(info, Msg = {Sysname, Sort, _Control}, Data) when is_atom(Sysname), is_integer(Sort) ->
    forward(Sysname, Msg, Data);
route(info, Msg = {Sysname, Sort, _Control, _Payload}, Data) when is_atom(Sysname), is_integer(Sort) ->
    forward(Sysname, Msg, Data);
route(info, {'DOWN', MRef, process, _Pid, _Reason}, Data = #data{monitors = Monitors})
  when is_map_key(MRef, Monitors) ->
    #data{handlers = Handlers} = Data,
    {Sysname, Monitors1} = maps:take(MRef, Monitors),
    {keep_state, Data#data{handlers = maps:remove(Sysname, Handlers), monitors = Monitors1}};
route(EventType, Event, Data) ->
    ?LOG_WARNING(#{what => router_unexpected_event, router => Data#data.name,
                   event_type => EventType, event => Event},
                 #{domain => [erldist_filter]}),
    case EventType of
        {call, From} -> {keep_state_and_data, [{reply, From, {error, badarg}}]};
        _ -> keep_state_and_data
    end.

%%% Internal

forward(Sysname, Msg, Data = #data{name = Name}) ->
    case is_mine(Sysname, Name) of
        true ->
            case handler(Sysname, Data) of
                {ok, Pid, Data1} ->
                    _ = erlang:send(Pid, Msg, [noconnect]),
                    {keep_state, Data1};
                {error, Reason} ->
                    ?LOG_ERROR(#{what => handler_start_failed, router => Name,
                                 sysname => Sysname, reason => Reason},
                               #{domain => [erldist_filter]}),
                    keep_state_and_data
            end;
        false ->
            ?LOG_WARNING(#{what => router_rejected_forged_message, router => Name,
                           sysname => Sysname, message => Msg},
                         #{domain => [erldist_filter]}),
            keep_state_and_data
    end.

is_mine(Sysname, Name) ->
    try erldist_filter_nif:router_name(Sysname) of
        Name -> true;
        _ -> false
    catch
        error:_ -> false
    end.

handler(Sysname, Data = #data{handlers = Handlers}) ->
    case Handlers of
        #{Sysname := {Pid, _MRef}} ->
            {ok, Pid, Data};
        #{} ->
            case supervisor:start_child(Data#data.handler_sup, [Sysname]) of
                {ok, Pid} ->
                    MRef = erlang:monitor(process, Pid),
                    {ok, Pid, Data#data{handlers = Handlers#{Sysname => {Pid, MRef}},
                                        monitors = (Data#data.monitors)#{MRef => Sysname}}};
                {error, _} = Error ->
                    Error
            end
    end.

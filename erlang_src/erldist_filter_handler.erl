%%% @doc Handler behaviour and the per-node handler worker.
%%%
%%% == The behaviour ==
%%% A handler module, set with {@link erldist_filter:handler_set/1},
%%% decides the fate of every distribution operation the NIF redirected
%%% (`redirect_dist_operations') and runs every inspected spawn request.
%%% `classify/3' sees operations without payload (EXIT2, GROUP_LEADER),
%%% `classify/4' operations with one (sends, PAYLOAD_EXIT2). `Hint' is the
%%% built-in opinion ({@link erldist_filter_hint}). Results:
%%% <ul>
%%% <li>`keep': execute the operation as received;</li>
%%% <li>`drop': forget it;</li>
%%% <li>`{keep, NewControl}' / `{keep, NewControl, NewPayload}': execute a
%%%     rewritten operation (same family: with or without payload).</li>
%%% </ul>
%%% `spawn_request_init/4' runs inside every process a remote node spawns
%%% here, in place of the requested function (see {@link edf:req/3}).
%%% `Sysname' is the name the sending node claimed; over the TLS carrier,
%%% {@link erldist_filter:peer_certificate/1} gives the certificate its
%%% connection presented, to decide by that instead.
%%%
%%% == The worker ==
%%% The router of a node starts one worker per sending node; it receives
%%% that node's redirected messages in arrival order, classifies and
%%% executes them one after the other. Kept operations are executed by the
%%% worker, so the receiver sees the worker as sender of exit signals.
%%% A crash or invalid result of the user's callback drops that one message
%%% (logged) and the worker carries on: the remaining messages are neither
%%% lost nor reordered. The worker never sends to a router name.
-module(erldist_filter_handler).
-behaviour(gen_statem).

-include_lib("kernel/include/logger.hrl").
-include("udist.hrl").

%% Process API
-export([child_spec/1]).
-export([start_link/2]).
%% Classification, hidden
-export([handler_classify/4]).
-export([handler_classify/5]).
%% gen_statem
-export([callback_mode/0]).
-export([init/1]).
-export([handle/3]).

-export_type([hint/0]).
-export_type([classify_result/0]).
-export_type([classify_payload_result/0]).

-type hint() :: erldist_filter_hint:hint().
-type classify_result() :: keep | drop | {keep, NewControl :: udist:dop_without_payload()}.
-type classify_payload_result() ::
    keep | drop | {keep, NewControl :: udist:dop_with_payload(), NewPayload :: term()}.

-callback classify(Hint :: hint(), Sysname :: node(), Control :: udist:dop_without_payload()) ->
    classify_result().
-callback classify(Hint :: hint(), Sysname :: node(), Control :: udist:dop_with_payload(),
                   Payload :: term()) ->
    classify_payload_result().
-callback spawn_request_init(Sysname :: node(), Module :: module(), FunctionName :: atom(),
                             Arguments :: [term()]) ->
    term().

-record(data, {router_number :: pos_integer(),
               sysname :: node(),
               sort = undefined :: undefined | integer()}).

%% @doc Template child of `erldist_filter_handler_<N>_sup': the supervisor
%% adds the sending node's name as last argument.
-spec child_spec(RouterNumber :: pos_integer()) -> supervisor:child_spec().
child_spec(RouterNumber) when is_integer(RouterNumber), RouterNumber >= 1 ->
    #{id => undefined,
      start => {?MODULE, start_link, [RouterNumber]},
      restart => temporary,
      shutdown => brutal_kill,
      type => worker,
      modules => [?MODULE]}.

%% @doc Start the worker for redirected messages from `Sysname'.
-spec start_link(RouterNumber :: pos_integer(), Sysname :: node()) -> gen_statem:start_ret().
start_link(RouterNumber, Sysname) when is_integer(RouterNumber), RouterNumber >= 1, is_atom(Sysname) ->
    %% Off-heap message queue, as the routers': a flood from one node (log
    %% events, pg syncs) queues outside the heap while it is judged.
    gen_statem:start_link(?MODULE, {RouterNumber, Sysname},
                          [{hibernate_after, 5000}, {spawn_opt, [{message_queue_data, off_heap}]}]).

%% @private Classify a redirected operation without payload: the handler
%% module's `classify/3', or the built-in policy when `Handler' is
%% `undefined'.
-spec handler_classify(Handler :: undefined | module(), Hint :: hint(), Sysname :: node(),
                       Control :: udist:dop_without_payload()) -> classify_result().
handler_classify(undefined, Hint, _Sysname, _Control) ->
    default_policy(Hint);
handler_classify(Handler, Hint, Sysname, Control) ->
    Handler:classify(Hint, Sysname, Control).

%% @private As `handler_classify/4', with payload (`classify/4').
-spec handler_classify(Handler :: undefined | module(), Hint :: hint(), Sysname :: node(),
                       Control :: udist:dop_with_payload(), Payload :: term()) ->
    classify_payload_result().
handler_classify(undefined, Hint, _Sysname, _Control, _Payload) ->
    default_policy(Hint);
handler_classify(Handler, Hint, Sysname, Control, Payload) ->
    Handler:classify(Hint, Sysname, Control, Payload).

%%% gen_statem

%% @private
-spec callback_mode() -> gen_statem:callback_mode_result().
callback_mode() ->
    state_functions.

%% @private
-spec init({pos_integer(), node()}) -> gen_statem:init_result(handle).
init({RouterNumber, Sysname}) ->
    {ok, handle, #data{router_number = RouterNumber, sysname = Sysname}}.

%% @private The only state: classify and execute each redirected message.
-spec handle(gen_statem:event_type(), term(), #data{}) -> gen_statem:event_handler_result(handle).
handle(info, {Sysname, Sort, Control}, Data = #data{sysname = Sysname}) when is_integer(Sort) ->
    handle_redirect(Sort, Control, none, Data);
handle(info, {Sysname, Sort, Control, Payload}, Data = #data{sysname = Sysname}) when is_integer(Sort) ->
    handle_redirect(Sort, Control, {some, Payload}, Data);
handle(EventType, Event, #data{sysname = Sysname}) ->
    ?LOG_WARNING(#{what => unexpected_event, event_type => EventType, event => Event,
                   sysname => Sysname},
                 #{domain => [erldist_filter]}),
    case EventType of
        {call, From} -> {keep_state_and_data, [{reply, From, {error, badarg}}]};
        _ -> keep_state_and_data
    end.

%%% Internal

handle_redirect(Sort, RawControl, MaybePayload, Data0 = #data{sysname = Sysname}) ->
    Data = track_sort(Sort, Data0),
    try cast_control(RawControl, MaybePayload) of
        Control ->
            Handler = erldist_filter:handler_get(),
            case decide(Handler, Sysname, Control, MaybePayload) of
                {keep, Control1, MaybePayload1} ->
                    execute(Control1, MaybePayload1, Sysname);
                drop ->
                    ok
            end
    catch
        error:function_clause ->
            ?LOG_WARNING(#{what => bad_redirected_control, sysname => Sysname,
                           control => RawControl},
                         #{domain => [erldist_filter]})
    end,
    {keep_state, Data}.

cast_control(RawControl, none) -> udist:cast_to_dop_without_payload(RawControl);
cast_control(RawControl, {some, _}) -> udist:cast_to_dop_with_payload(RawControl).

%% A connection restart starts the numbering again: nothing is dropped
%% because of it.
track_sort(Sort, Data = #data{sort = Last, sysname = Sysname}) when is_integer(Last), Sort =< Last ->
    ?LOG_DEBUG(#{what => redirect_sequence_restarted, sysname => Sysname, last => Last, sort => Sort},
               #{domain => [erldist_filter]}),
    Data#data{sort = Sort};
track_sort(Sort, Data) ->
    Data#data{sort = Sort}.

decide(Handler, Sysname, Control, none) ->
    Hint = erldist_filter_hint:hint(Sysname, Control),
    try handler_classify(Handler, Hint, Sysname, Control) of
        keep -> {keep, Control, none};
        drop -> drop;
        {keep, New} when ?is_udist_dop_without_payload_t(New) -> {keep, New, none};
        Other -> invalid_result(Handler, Sysname, Control, {returned, Other})
    catch
        Class:Reason:Stack ->
            invalid_result(Handler, Sysname, Control, {Class, Reason, Stack})
    end;
decide(Handler, Sysname, Control, {some, Payload}) ->
    Hint = erldist_filter_hint:hint(Sysname, Control, Payload),
    try handler_classify(Handler, Hint, Sysname, Control, Payload) of
        keep -> {keep, Control, {some, Payload}};
        drop -> drop;
        {keep, New, NewPayload} when ?is_udist_dop_with_payload_t(New) -> {keep, New, {some, NewPayload}};
        Other -> invalid_result(Handler, Sysname, Control, {returned, Other})
    catch
        Class:Reason:Stack ->
            invalid_result(Handler, Sysname, Control, {Class, Reason, Stack})
    end.

invalid_result(Handler, Sysname, Control, Why) ->
    ?LOG_ERROR(#{what => handler_classify_failed, handler => Handler, sysname => Sysname,
                 control => Control, reason => Why},
               #{domain => [erldist_filter]}),
    drop.

default_policy(drop) -> drop;
default_policy(safe) -> keep;
default_policy(unsafe) -> keep.

%% Execute a kept operation; only local targets, never a router, errors
%% ignored. OTP 25 has no priority signals: a PRIO altact is executed as a
%% plain send (or exit, when the target is a pid).
execute(Control, MaybePayload, Sysname) ->
    try do_execute(Control, MaybePayload) of
        ok -> ok;
        ignored ->
            ?LOG_DEBUG(#{what => kept_operation_not_executable, sysname => Sysname,
                         control => Control},
                       #{domain => [erldist_filter]})
    catch
        _:_ -> ok
    end.

do_execute(#udist_dop_exit2{to_pid = To, reason = Reason}, none) -> exit_local(To, Reason);
do_execute(#udist_dop_exit2_tt{to_pid = To, reason = Reason}, none) -> exit_local(To, Reason);
do_execute(#udist_dop_payload_exit2{to_pid = To}, {some, Reason}) -> exit_local(To, Reason);
do_execute(#udist_dop_payload_exit2_tt{to_pid = To}, {some, Reason}) -> exit_local(To, Reason);
do_execute(#udist_dop_group_leader{from_pid = Leader, to_pid = To}, none)
  when is_pid(Leader), is_pid(To), node(To) =:= node() ->
    true = erlang:group_leader(Leader, To),
    ok;
do_execute(#udist_dop_alias_send{alias = Alias}, {some, Msg}) -> send_local(Alias, Msg);
do_execute(#udist_dop_alias_send_tt{alias = Alias}, {some, Msg}) -> send_local(Alias, Msg);
do_execute(#udist_dop_reg_send{to_name = Name}, {some, Msg}) -> send_local(Name, Msg);
do_execute(#udist_dop_reg_send_tt{to_name = Name}, {some, Msg}) -> send_local(Name, Msg);
do_execute(#udist_dop_send{to_pid = To}, {some, Msg}) -> send_local(To, Msg);
do_execute(#udist_dop_send_tt{to_pid = To}, {some, Msg}) -> send_local(To, Msg);
do_execute(#udist_dop_send_sender{to_pid = To}, {some, Msg}) -> send_local(To, Msg);
do_execute(#udist_dop_send_sender_tt{to_pid = To}, {some, Msg}) -> send_local(To, Msg);
do_execute(Altact = #udist_dop_altact_sig_send{to = To}, {some, Payload})
  when ?is_udist_dop_exit2_t(Altact) ->
    exit_local(To, Payload);
do_execute(#udist_dop_altact_sig_send{to = To}, {some, Payload}) ->
    send_local(To, Payload);
do_execute(_Control, _MaybePayload) ->
    ignored.

exit_local(To, Reason) when is_pid(To), node(To) =:= node() ->
    true = erlang:exit(To, Reason),
    ok;
exit_local(_To, _Reason) ->
    ignored.

send_local(To, Msg) when is_pid(To), node(To) =:= node() ->
    _ = erlang:send(To, Msg, [noconnect]),
    ok;
send_local(To, Msg) when is_reference(To), node(To) =:= node() ->
    _ = erlang:send(To, Msg, [noconnect]),
    ok;
send_local(To, Msg) when is_atom(To) ->
    case erldist_filter_hint:is_router_name(To) of
        true -> ignored;
        false -> _ = erlang:send(To, Msg, [noconnect]), ok
    end;
send_local(_To, _Msg) ->
    ignored.

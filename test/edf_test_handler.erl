%%% A test handler (`erldist_filter_handler' behaviour) that reports every
%%% call to a collector registered as `edf_test_handler_collector' on its
%%% node, with a policy chosen by `set_mode/1':
%%%
%%% - `talk' (default): the talk's example. Spawn requests may only run
%%%   `erpc:execute_call' of `erlang:node/0'; other erpc calls are rewritten
%%%   to exit `unauthorized' (so the caller gets `{exception,
%%%   unauthorized}'), other spawns exit `unauthorized'. `unsafe' gen calls
%%%   are kept only for `edf_test_trusted', alias replies are kept, else the
%%%   hint decides with `unsafe' meaning drop. A dropped gen call is answered
%%%   `{error, unauthorized}' and a dropped io request `{error, enotsup}'
%%%   by the handler itself; that io reply is kept when it comes back.
%%% - `keep_all': keep everything, run every spawn request unchanged.
-module(edf_test_handler).
-behaviour(erldist_filter_handler).

-include_lib("erldist_filter/include/udist.hrl").

-export([classify/3]).
-export([classify/4]).
-export([spawn_request_init/4]).
-export([spawn_request_unauthorized/0]).
-export([set_mode/1]).
-export([start_collector/0]).
-export([await/2]).
-export([events/0]).

-define(COLLECTOR, edf_test_handler_collector).
-define(MODE_KEY, {?MODULE, mode}).

%%% erldist_filter_handler

-spec classify(erldist_filter_handler:hint(), node(), udist:dop_without_payload()) -> keep | drop.
classify(Hint, Sysname, Control) ->
    Decision = case mode() of
                   keep_all -> keep;
                   talk -> hint_policy(Hint)
               end,
    report({classify, Hint, Sysname, Control, none, Decision}),
    Decision.

-spec classify(erldist_filter_handler:hint(), node(), udist:dop_with_payload(), term()) -> keep | drop.
classify(Hint, Sysname, Control, Payload) ->
    Decision = case mode() of
                   keep_all -> keep;
                   talk -> talk_policy(Hint, Control, Payload)
               end,
    report({classify, Hint, Sysname, Control, Payload, Decision}),
    Decision =:= drop andalso answer_dropped(Payload),
    Decision.

-spec spawn_request_init(node(), module(), atom(), [term()]) -> term().
spawn_request_init(Sysname, Module, FunctionName, Arguments) ->
    report({spawn_request_init, Sysname, Module, FunctionName, Arguments}),
    case {mode(), Module, FunctionName, Arguments} of
        {keep_all, _, _, _} ->
            erlang:apply(Module, FunctionName, Arguments);
        {talk, erpc, execute_call, [Ref, M, F, A]} ->
            case {M, F, A} of
                {erlang, node, []} ->
                    erlang:apply(Module, FunctionName, Arguments);
                _ ->
                    erlang:apply(Module, FunctionName, [Ref, ?MODULE, spawn_request_unauthorized, []])
            end;
        {talk, _, _, _} ->
            spawn_request_unauthorized()
    end.

-spec spawn_request_unauthorized() -> no_return().
spawn_request_unauthorized() ->
    exit(unauthorized).

%%% Test API

%% Set the policy on this node.
-spec set_mode(talk | keep_all) -> ok.
set_mode(Mode) when Mode =:= talk; Mode =:= keep_all ->
    persistent_term:put(?MODE_KEY, Mode).

%% Start the collector of reports on this node (not linked: it outlives
%% the caller).
-spec start_collector() -> pid().
start_collector() ->
    Pid = spawn(fun() -> collect([], []) end),
    true = register(?COLLECTOR, Pid),
    Pid.

%% The reports so far once `Pred(Reports)' holds (oldest first), or
%% `{timeout, Reports}'.
-spec await(fun(([term()]) -> boolean()), timeout()) -> {ok, [term()]} | {timeout, [term()]}.
await(Pred, Timeout) ->
    Ref = make_ref(),
    ?COLLECTOR ! {await, self(), Ref, Pred},
    receive
        {Ref, Events} -> {ok, Events}
    after Timeout ->
        ?COLLECTOR ! {cancel, Ref},
        {timeout, events()}
    end.

%% The reports so far, oldest first.
-spec events() -> [term()].
events() ->
    Ref = make_ref(),
    ?COLLECTOR ! {await, self(), Ref, fun(_) -> true end},
    receive {Ref, Events} -> Events end.

%%% Internal

mode() ->
    persistent_term:get(?MODE_KEY, talk).

hint_policy(drop) -> drop;
hint_policy(safe) -> keep;
hint_policy(unsafe) -> drop.

talk_policy(unsafe, Control, {'$gen_call', _From, _Request}) ->
    case Control of
        #udist_dop_reg_send{to_name = edf_test_trusted} -> keep;
        _ -> drop
    end;
talk_policy(unsafe, _Control, {[alias | _], _Reply}) ->
    keep;
talk_policy(drop, _Control, {io_reply, _ReplyAs, {error, enotsup}}) ->
    keep;
talk_policy(Hint, _Control, _Payload) ->
    hint_policy(Hint).

answer_dropped({'$gen_call', From, _Request}) ->
    _ = gen:reply(From, {error, unauthorized}),
    true;
answer_dropped({io_request, From, ReplyAs, _Request}) when is_pid(From) ->
    From ! {io_reply, ReplyAs, {error, enotsup}},
    true;
answer_dropped(_) ->
    false.

report(Event) ->
    %% A send to an unregistered name raises: no collector, no report.
    try ?COLLECTOR ! {report, Event}
    catch error:badarg -> ok
    end,
    ok.

collect(Events, Waiting) ->
    receive
        {report, Event} ->
            check(Events ++ [Event], Waiting);
        {await, From, Ref, Pred} ->
            check(Events, [{From, Ref, Pred} | Waiting]);
        {cancel, Ref} ->
            collect(Events, lists:keydelete(Ref, 2, Waiting))
    end.

check(Events, Waiting) ->
    Left = [W || W = {From, Ref, Pred} <- Waiting,
                 not (Pred(Events) andalso begin From ! {Ref, Events}, true end)],
    collect(Events, Left).

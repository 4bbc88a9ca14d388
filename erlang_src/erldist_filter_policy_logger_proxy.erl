%%% @doc The safe policy's rules for what other nodes send `logger_proxy'
%%% (see {@link erldist_filter_policy}): log events of processes whose
%%% group leader is here. Every event delivered costs this node a format
%%% and a write, so only events whose format cannot expand and whose
%%% arguments nest boundedly are kept, and each node only within its byte
%%% budget (`logger_budget'). Funs (a `report_cb' would run here) are
%%% refused by the policy before these rules.
%%% @hidden Part of the safe policy, not an API.
-module(erldist_filter_policy_logger_proxy).

-export([decision/2]).
-export([charge/4]).

%% @doc The decision on a fun-free payload to `logger_proxy' (before the
%% budget: see {@link charge/4}).
-spec decision(term(), map()) -> {erldist_filter_policy:decision(), erldist_filter_policy:reason()}.
decision(Payload, Config) ->
    logger_event_decision(Payload, maps:get(logger_max_depth, Config)).

%% @doc A log event for logger_proxy is delivered only within the sending
%% node's logger budget (a token bucket in this process: the node's
%% handler worker); any other decision passes unchanged.
-spec charge(node(), term(), {erldist_filter_policy:decision(), erldist_filter_policy:reason()}, map()) ->
    {erldist_filter_policy:decision(), erldist_filter_policy:reason(), map()}.
charge(Sysname, Payload, {keep, logger_event}, Config) ->
    Bytes = erlang:external_size(Payload),
    case logger_budget(maps:get(logger_budget, Config, erldist_filter_policy:default_logger_budget())) of
        infinity ->
            {keep, logger_event, #{}};
        {Burst, Rate} ->
            %% The key predates this module: a worker's buckets outlive a
            %% code change.
            Key = {erldist_filter_policy, logger_budget, Sysname},
            Now = erlang:monotonic_time(microsecond),
            {Tokens0, Last, Dropped} = case get(Key) of
                                           {T, L, D} -> {T, L, D};
                                           _ -> {Burst, Now, 0}
                                       end,
            Tokens = min(Burst, Tokens0 + (Now - Last) * Rate div 1000000),
            case Bytes =< Tokens of
                true ->
                    put(Key, {Tokens - Bytes, Now, Dropped}),
                    {keep, logger_event, #{}};
                false ->
                    put(Key, {Tokens, Now, Dropped + 1}),
                    {drop, logger_budget_exceeded, #{bytes => Bytes, budget_drops => Dropped + 1}}
            end
    end;
charge(_Sysname, _Payload, {Decision, Reason}, _Config) ->
    {Decision, Reason, #{}}.

%% `{Burst, BytesPerSecond}' or `infinity'; a malformed value is the default.
logger_budget(infinity) ->
    infinity;
logger_budget(#{burst_bytes := Burst, bytes_per_second := Rate})
  when is_integer(Burst), Burst >= 0, is_integer(Rate), Rate >= 0 ->
    {Burst, Rate};
logger_budget(_Bad) ->
    logger_budget(erldist_filter_policy:default_logger_budget()).

%% The log events other nodes send logger_proxy (`logger:log_remote'):
%% `{log, Level, Format, Args, Meta}' with a format that cannot expand
%% (no field width, precision or padding: `~999999p', `~*c') and nested
%% no deeper than `MaxDepth' (pretty printing indents by depth), or
%% `{log, Level, Msg, Meta}'. Anything else, such as `{remote, Node, Event}'
%% (which logger_proxy forwards to `Node'), is refused.
logger_event_decision({log, Level, Format, Args, Meta}, MaxDepth)
  when is_atom(Level), is_list(Args), is_map(Meta) ->
    case safe_format(Format) andalso depth_within(Args, MaxDepth) of
        true -> {keep, logger_event};
        false -> {drop, logger_format_refused}
    end;
logger_event_decision({log, Level, Msg, Meta}, MaxDepth) when is_atom(Level), is_map(Meta) ->
    case depth_within(Msg, MaxDepth) of
        true -> {keep, logger_event};
        false -> {drop, logger_format_refused}
    end;
logger_event_decision(_Payload, _MaxDepth) ->
    {drop, logger_request}.

safe_format(Format) when is_atom(Format) -> safe_format(atom_to_list(Format));
safe_format(Format) ->
    try unicode:characters_to_list(Format) of
        Chars when is_list(Chars) -> no_expanding_directive(Chars);
        _ -> false
    catch _:_ -> false
    end.

no_expanding_directive([$~, C | _]) when C >= $0, C =< $9; C =:= $*; C =:= $.; C =:= $- -> false;
no_expanding_directive([$~, _ | Rest]) -> no_expanding_directive(Rest);
no_expanding_directive([_ | Rest]) -> no_expanding_directive(Rest);
no_expanding_directive([]) -> true.

%% Whether `Term' nests at most `Max' deep (stops at the first level over).
depth_within(_Term, Max) when Max < 0 -> false;
depth_within(Term, Max) when is_tuple(Term) -> depth_within(tuple_to_list(Term), Max);
depth_within(Term, Max) when is_map(Term) -> depth_within(maps:to_list(Term), Max);
depth_within([H | T], Max) -> depth_within(H, Max - 1) andalso depth_within(T, Max);
depth_within(_Term, _Max) -> true.

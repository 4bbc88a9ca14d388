%%% @doc Budgeted remote spawns: every spawn request that deep packet
%%% inspection routed through {@link edf:req/3} runs under a budget of
%%% reductions, heap words, wall-clock time and concurrent spawns per
%%% sending node.
%%%
%%% == Configuration ==
%%% Application environment key `spawn_budget', read at every spawn (the
%%% parsed form is cached until the value changes):
%%% ```
%%% {erldist_filter, [
%%%     {spawn_budget, #{
%%%         default => #{reductions => 50000000, heap_words => 8388608,
%%%                      wall_ms => 60000, concurrency => 100},
%%%         nodes => [{'ops@10.0.0.1', #{reductions => infinity}},
%%%                   {"worker*@10.0.0.*", #{concurrency => 10}}],
%%%         mfas => [{{my_api, heavy_report, 1}, #{wall_ms => 300000}},
%%%                  {{my_api, '_', '_'}, #{heap_words => 1048576}}],
%%%         interval_ms => 10}}
%%% ]}
%%% '''
%%% A budget is a map with any of `reductions', `heap_words', `wall_ms',
%%% `concurrency' (a non-negative integer or `infinity'). The effective
%%% budget starts from the built-in default ({@link builtin_default/0}),
%%% then the `default' entry, then the first matching `nodes' entry, then
%%% the first matching `mfas' entry; each level overrides only the fields
%%% it names. A node pattern is an atom (exact name, `'_'' for any) or a
%%% string where `*' matches any characters. An MFA pattern is
%%% `{M, F, A}', any element `'_''. The MFA is the function the caller
%%% asked for: for `erpc' and `rpc' (`erpc:execute_call/4',
%%% `erpc:execute_cast/3') it is the inner `{M, F, length(A)}', for
%%% `erlang:apply/2,3' the applied function. `interval_ms' (default 10) is
%%% the longest time between two reduction samples. Bad entries are
%%% logged once and ignored.
%%%
%%% == Enforcement ==
%%% When every field is `infinity' the function runs in place, as without
%%% a budget. Otherwise a watcher process is started first; it holds the
%%% per-node concurrency count (over the limit, the spawned process exits
%%% `{budget_exceeded, concurrency}' at once and the function never runs),
%%% samples reductions and heap size at most `interval_ms' apart (sooner
%%% as the limit nears, at the fastest rate seen; with `trace_near_limit'
%%% also at every schedule-out in the last 5 ms of budget), and enforces
%%% the wall-time deadline. The heap limit is `max_heap_size' (`kill =>
%%% true', `error_logger => false').
%%%
%%% For `erpc' (`erpc:execute_call/4', `execute_cast/3', which talk to
%%% their caller only through the exit reason) the spawned process is a
%%% proxy: a worker runs the function, the proxy forwards it every message
%%% and exits with its exit reason, or with `{budget_exceeded, Kind}' when
%%% the watcher killed it or the VM killed it for its heap (`killed' is
%%% translated). The caller sees `exit:{signal, {budget_exceeded, Kind}}'
%%% from `erpc:call', `{badrpc, {'EXIT', {budget_exceeded, Kind}}}' from
%%% `rpc:call'. Any other spawn runs in place, so the pid the caller got
%%% is the one running the function: over budget it exits
%%% `{budget_exceeded, Kind}' (killed with `kill', reason `killed', if it
%%% traps exits), and a heap kill shows as `killed'.
%%%
%%% Every budget hit is logged (`?LOG_WARNING', domain `[erldist_filter]',
%%% `#{what => budget_exceeded, node, mfa, kind, limit, used}') and counted
%%% ({@link stats/0}).
-module(erldist_filter_budget).
-behaviour(gen_server).

-include_lib("kernel/include/logger.hrl").

%% API
-export([child_spec/0]).
-export([start_link/0]).
-export([run/4]).
-export([budget/2]).
-export([builtin_default/0]).
-export([effective_mfa/2]).
-export([stats/0]).
-export([concurrency/1]).
%% gen_server
-export([init/1, handle_call/3, handle_cast/2, handle_info/2]).

-type limit() :: non_neg_integer() | infinity.
-type kind() :: reductions | heap | time | concurrency.
-type budget() :: #{reductions := limit(), heap_words := limit(), wall_ms := limit(),
                    concurrency := limit()}.
-export_type([limit/0, kind/0, budget/0]).

-define(TABLE, ?MODULE).
-define(COUNTERS_KEY, {?MODULE, counters}).
-define(CONFIG_KEY, {?MODULE, config}).
-define(DEFAULT_INTERVAL_MS, 10).
-define(TRACE_MS, 5).
-define(FIELDS, [reductions, heap_words, wall_ms, concurrency]).

%% The configuration entry a concurrency limit came from.
-type scope() :: default | {nodes, term()} | {mfas, term()}.

-record(config, {default :: map(),
                 nodes :: [{{term(), fun((string()) -> boolean())}, map()}],
                 mfas :: [{{atom(), atom(), '_' | arity()}, map()}],
                 interval_ms :: pos_integer(),
                 trace :: boolean()}).

-record(job, {node :: node(),
              mfa :: mfa(),
              scope :: scope(),
              budget :: budget(),
              interval_ms :: pos_integer(),
              trace :: boolean(),
              mode :: proxy | in_place,
              proxy :: pid(),
              tag :: reference()}).

%%% API

%% @doc Child of `erldist_filter_sup': owns the concurrency table and
%% creates the counters.
-spec child_spec() -> supervisor:child_spec().
child_spec() ->
    #{id => ?MODULE, start => {?MODULE, start_link, []}, restart => permanent,
      shutdown => 5000, type => worker, modules => [?MODULE]}.

%% @doc Start and register the table owner.
-spec start_link() -> gen_server:start_ret().
start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% @doc The budget that applies, with every field, before any
%% configuration: generous enough for ordinary `erpc'/`rpc' calls, finite
%% so that a runaway loop or allocation still ends.
-spec builtin_default() -> budget().
builtin_default() ->
    #{reductions => 1000000000,        % ~1-10 s of CPU
      heap_words => 128 * 1024 * 1024, % 1 GiB on a 64-bit VM
      wall_ms => infinity,             % long-lived remote processes are legitimate
      concurrency => 10000}.

%% @doc The effective budget for a spawn from `Node' of `MFA' (as returned
%% by {@link effective_mfa/2}).
-spec budget(Node :: node(), MFA :: mfa()) -> budget().
budget(Node, MFA) ->
    {Budget, _Scope, _Interval} = resolve(Node, MFA),
    Budget.

%% @doc The function a spawn of `{M, F, Arity}' with `Args' really runs:
%% `erpc' and `apply' wrappers are seen through.
-spec effective_mfa(mfa(), [term()]) -> mfa().
effective_mfa({erpc, execute_call, 4}, [_Ref, M, F, A]) -> inner(M, F, A, {erpc, execute_call, 4});
effective_mfa({erpc, execute_cast, 3}, [M, F, A]) -> inner(M, F, A, {erpc, execute_cast, 3});
effective_mfa({erlang, apply, 3}, [M, F, A]) -> inner(M, F, A, {erlang, apply, 3});
effective_mfa({erlang, apply, 2}, [Fun, _A]) when is_function(Fun) ->
    {module, M} = erlang:fun_info(Fun, module),
    {name, F} = erlang:fun_info(Fun, name),
    case erlang:fun_info(Fun, arity) of
        {arity, Arity} when is_atom(M), is_atom(F) -> {M, F, Arity};
        _ -> {erlang, apply, 2}
    end;
effective_mfa(MFA, _Args) ->
    MFA.

inner(M, F, A, Outer) when is_atom(M), is_atom(F) ->
    try length(A) of
        N -> {M, F, N}
    catch
        error:badarg -> Outer
    end;
inner(_M, _F, _A, Outer) ->
    Outer.

%% @doc Run `Fun' (the spawn request `MFA' with `Args' from `Node') in the
%% calling process under the budget that applies. Does not return when a
%% budget is set: the calling process exits with the worker's reason or
%% `{budget_exceeded, Kind}'.
-spec run(Node :: node(), MFA :: mfa(), Args :: [term()], Fun :: fun(() -> term())) -> term().
run(Node, MFA0, Args, Fun) when is_atom(Node), is_function(Fun, 0) ->
    MFA = effective_mfa(MFA0, Args),
    {Budget, Scope, {Interval, Trace}} = resolve(Node, MFA),
    case lists:all(fun(K) -> maps:get(K, Budget) =:= infinity end, ?FIELDS) of
        true -> Fun();
        false ->
            Job = #job{node = Node, mfa = MFA, scope = Scope, budget = Budget,
                       interval_ms = Interval, trace = Trace, mode = mode(MFA0),
                       proxy = self(), tag = make_ref()},
            case Job#job.mode of
                proxy -> proxy(Job, Fun);
                in_place -> in_place(Job, Fun)
            end
    end.

%% erpc's processes talk to their caller only through their exit reason:
%% a worker behind a proxy changes nothing they can see. Any other spawn
%% keeps its identity (the pid the caller got runs the function).
mode({erpc, execute_call, 4}) -> proxy;
mode({erpc, execute_cast, 3}) -> proxy;
mode(_) -> in_place.

%% @doc Budget hits since the application started (all zero when it has
%% not).
-spec stats() -> #{kind() => non_neg_integer()}.
stats() ->
    case persistent_term:get(?COUNTERS_KEY, undefined) of
        undefined ->
            #{reductions => 0, heap => 0, time => 0, concurrency => 0};
        Ref ->
            maps:from_list([{K, counters:get(Ref, kind_index(K))}
                            || K <- [reductions, heap, time, concurrency]])
    end.

%% @doc Budgeted spawns from `Node' with a finite concurrency limit running
%% now (all entries).
-spec concurrency(node()) -> non_neg_integer().
concurrency(Node) ->
    try ets:select(?TABLE, [{{{Node, '_'}, '$1'}, [], ['$1']}]) of
        Counts -> lists:sum(Counts)
    catch error:badarg -> 0
    end.

%%% The proxy: the process the remote node spawned.

proxy(Job = #job{tag = Tag, budget = Budget}, Fun) ->
    {Watcher, WRef} = start_watcher(Job),
    receive
        {Tag, refused} ->
            exit({budget_exceeded, concurrency});
        {Tag, admitted} ->
            Opts = [monitor | heap_opts(maps:get(heap_words, Budget))],
            {Worker, MRef} = spawn_opt(fun() -> Fun() end, Opts),
            Watcher ! {Tag, worker, Worker},
            proxy_loop(Tag, Worker, MRef, Watcher, WRef);
        {'DOWN', WRef, process, Watcher, Reason} ->
            exit({budget_watcher_down, Reason})
    end.

%% The spawned process runs the function itself, watched; a heap kill
%% shows as `killed'.
in_place(Job = #job{tag = Tag, budget = Budget}, Fun) ->
    {Watcher, WRef} = start_watcher(Job),
    receive
        {Tag, refused} ->
            exit({budget_exceeded, concurrency});
        {Tag, admitted} ->
            erlang:demonitor(WRef, [flush]),
            _ = case maps:get(heap_words, Budget) of
                    infinity -> ok;
                    Words -> process_flag(max_heap_size, #{size => Words, kill => true,
                                                           error_logger => false})
                end,
            Watcher ! {Tag, worker, self()},
            Fun();
        {'DOWN', WRef, process, Watcher, Reason} ->
            exit({budget_watcher_down, Reason})
    end.

heap_opts(infinity) -> [];
heap_opts(Words) -> [{max_heap_size, #{size => Words, kill => true, error_logger => false}}].

proxy_loop(Tag, Worker, MRef, Watcher, WRef) ->
    receive
        {'DOWN', MRef, process, Worker, Reason} ->
            exit(verdict(Tag, Reason, Watcher, WRef));
        {Tag, verdict, Verdict} ->
            receive {'DOWN', MRef, process, Worker, Reason} -> ok end,
            exit(translate(Verdict, Reason));
        {'DOWN', WRef, process, Watcher, Reason} ->
            %% Only local code can kill the watcher: fail closed.
            exit(Worker, kill),
            exit({budget_watcher_down, Reason});
        Msg ->
            Worker ! Msg,
            proxy_loop(Tag, Worker, MRef, Watcher, WRef)
    end.

%% The watcher always sends a verdict after it saw the worker's death.
verdict(Tag, Reason, Watcher, WRef) ->
    receive
        {Tag, verdict, Verdict} -> translate(Verdict, Reason);
        {'DOWN', WRef, process, Watcher, _} -> Reason
    end.

translate(none, Reason) -> Reason;
translate(Kind, _Reason) -> {budget_exceeded, Kind}.

%%% The watcher

%% High priority: on a busy node (the one an attacker's spin makes busy
%% too) a watcher at normal priority waits in the run queue behind the
%% very process it should stop, and the overshoot grows with the load. It
%% only samples, so it costs the node next to nothing.
start_watcher(Job) ->
    spawn_opt(fun() -> watcher_init(Job) end, [monitor, {priority, high}]).

watcher_init(Job = #job{proxy = Proxy, tag = Tag, node = Node, scope = Scope,
                        budget = Budget}) ->
    PRef = erlang:monitor(process, Proxy),
    Start = erlang:monotonic_time(millisecond),
    case admit({Node, Scope}, maps:get(concurrency, Budget)) of
        {refused, Used, Limit} ->
            hit(Job, concurrency, Limit, Used),
            Proxy ! {Tag, refused};
        {admitted, Release} ->
            Proxy ! {Tag, admitted},
            receive
                {Tag, worker, Worker} ->
                    WorkerRef = case Worker of
                                    Proxy -> PRef;
                                    _ -> erlang:monitor(process, Worker)
                                end,
                    Deadline = case maps:get(wall_ms, Budget) of
                                   infinity -> infinity;
                                   Ms -> Start + Ms
                               end,
                    watch(Job, Worker, WorkerRef, PRef, Deadline, {Start, 0, 0, false});
                {'DOWN', PRef, process, Proxy, _} ->
                    ok
            end,
            Release()
    end.

%% Sample = {Time, Reductions, PeakRate (reductions per ms)}.
watch(Job = #job{proxy = Proxy, tag = Tag, budget = Budget}, Worker, WorkerRef, PRef, Deadline,
      Sample) ->
    {Timeout, Sample0} = near_limit(Job, Worker, next_timeout(Job, Deadline, Sample), Sample),
    receive
        {trace, Worker, _, _} ->
            %% Sample once per backlog: a watcher that fell behind must
            %% not sample stale schedule-outs one by one.
            drain_trace(Worker),
            sample(Job, Worker, WorkerRef, PRef, Deadline, Sample0);
        {'DOWN', WorkerRef, process, Worker, Reason} ->
            Verdict = case {Reason, maps:get(heap_words, Budget)} of
                          {killed, Limit} when Limit =/= infinity ->
                              hit(Job, heap, Limit, unknown),
                              heap;
                          _ ->
                              none
                      end,
            Proxy ! {Tag, verdict, Verdict};
        {'DOWN', PRef, process, Proxy, _} ->
            exit(Worker, kill)
    after Timeout ->
        sample(Job, Worker, WorkerRef, PRef, Deadline, Sample0)
    end.

sample(Job = #job{proxy = Proxy, tag = Tag}, Worker, WorkerRef, PRef, Deadline, Sample) ->
    Now = erlang:monotonic_time(millisecond),
    case check(Job, Worker, Now, Deadline, Sample) of
        {continue, Sample1} ->
            watch(Job, Worker, WorkerRef, PRef, Deadline, Sample1);
        {stop, Kind, Limit, Used} ->
            stop(Job, Worker, WorkerRef, Kind),
            hit(Job, Kind, Limit, Used),
            Proxy ! {Tag, verdict, Kind}
    end.

%% A worker behind a proxy is killed (the proxy exits with the reason). A
%% process running in place exits with `{budget_exceeded, Kind}' unless it
%% traps exits (or starts to within an interval): then it is killed.
stop(#job{mode = proxy}, Worker, WorkerRef, _Kind) ->
    exit(Worker, kill),
    receive {'DOWN', WorkerRef, process, Worker, _} -> ok end;
stop(#job{mode = in_place, interval_ms = Interval}, Worker, WorkerRef, Kind) ->
    case erlang:process_info(Worker, trap_exit) of
        {trap_exit, false} -> exit(Worker, {budget_exceeded, Kind});
        _ -> exit(Worker, kill)
    end,
    receive {'DOWN', WorkerRef, process, Worker, _} -> ok
    after Interval ->
        exit(Worker, kill),
        receive {'DOWN', WorkerRef, process, Worker, _} -> ok end
    end.

%% With `trace_near_limit', once the limit is less than ?TRACE_MS of work
%% away at the fastest rate seen, also sample at every schedule-out of the
%% worker (about every 4000 reductions); only when no one else traces it.
near_limit(#job{trace = true, budget = #{reductions := Limit}}, Worker, Timeout,
           {T, R, Peak, false}) when is_integer(Limit), Peak > 0, (Limit - R) div Peak < ?TRACE_MS ->
    Traced = try erlang:trace_info(Worker, tracer) of
                 {tracer, []} -> 1 =:= erlang:trace(Worker, true, [running, {tracer, self()}]);
                 _ -> false
             catch
                 error:badarg -> false
             end,
    {Timeout, {T, R, Peak, Traced}};
near_limit(_Job, _Worker, Timeout, Sample) ->
    {Timeout, Sample}.

drain_trace(Worker) ->
    receive {trace, Worker, _, _} -> drain_trace(Worker)
    after 0 -> ok
    end.

check(#job{budget = Budget}, Worker, Now, Deadline, Sample = {T0, R0, Peak, Tracing}) ->
    case Deadline =/= infinity andalso Now >= Deadline of
        true ->
            WallMs = maps:get(wall_ms, Budget),
            {stop, time, WallMs, Now - (Deadline - WallMs)};
        false ->
            case erlang:process_info(Worker, [reductions, total_heap_size]) of
                undefined ->
                    %% Dead: its 'DOWN' is on its way.
                    {continue, Sample};
                [{reductions, R}, {total_heap_size, H}] ->
                    RLimit = maps:get(reductions, Budget),
                    HLimit = maps:get(heap_words, Budget),
                    if
                        RLimit =/= infinity, R >= RLimit -> {stop, reductions, RLimit, R};
                        HLimit =/= infinity, H > HLimit -> {stop, heap, HLimit, H};
                        true ->
                            Rate = (R - R0) div max(1, Now - T0),
                            {continue, {Now, R, max(Peak, Rate), Tracing}}
                    end
            end
    end.

%% At most `interval_ms'; the first sample after 1 ms (to learn the rate);
%% when, at the fastest rate seen so far, the reduction limit could be
%% reached sooner, half that time (so the samples close in on the limit,
%% down to 1 ms apart); never past the deadline.
next_timeout(#job{budget = Budget, interval_ms = Interval}, Deadline, {_T, R, Peak, _}) ->
    ToLimit = case maps:get(reductions, Budget) of
                  infinity -> Interval;
                  _ when R =:= 0 -> 1;
                  Limit when Peak > 0 -> max(1, min(Interval, (Limit - R) div (2 * Peak)));
                  _ -> Interval
              end,
    case Deadline of
        infinity -> ToLimit;
        _ -> max(0, min(ToLimit, Deadline - erlang:monotonic_time(millisecond)))
    end.

admit(_Key, infinity) ->
    {admitted, fun() -> ok end};
admit(Key, Limit) ->
    try ets:update_counter(?TABLE, Key, {2, 1}, {Key, 0}) of
        N when N > Limit ->
            release(Key),
            {refused, N, Limit};
        _ ->
            {admitted, fun() -> release(Key) end}
    catch
        error:badarg ->
            %% The application is not running: no table, no limit.
            {admitted, fun() -> ok end}
    end.

release(Key) ->
    try ets:update_counter(?TABLE, Key, {2, -1, 0, 0}) of
        _ -> ok
    catch
        error:badarg -> ok
    end.

hit(#job{node = Node, mfa = MFA}, Kind, Limit, Used) ->
    case persistent_term:get(?COUNTERS_KEY, undefined) of
        undefined -> ok;
        Ref -> counters:add(Ref, kind_index(Kind), 1)
    end,
    ok = erldist_filter_default_handler:early(),
    ?LOG_WARNING(#{what => budget_exceeded, node => Node, mfa => MFA, kind => Kind,
                   limit => Limit, used => Used},
                 #{domain => [erldist_filter]}),
    erldist_filter_telemetry:execute([erldist_filter, budget, exceeded], #{count => 1},
                                     #{node => Node, mfa => MFA, kind => Kind, limit => Limit,
                                       used => Used}).

kind_index(reductions) -> 1;
kind_index(heap) -> 2;
kind_index(time) -> 3;
kind_index(concurrency) -> 4.

%%% Configuration

resolve(Node, MFA) ->
    #config{default = Default, nodes = Nodes, mfas = MFAs, interval_ms = Interval,
            trace = Trace} = config(),
    NodeName = atom_to_list(Node),
    {NodePattern, ByNode} = first_match(fun({_, Match}) -> Match(NodeName) end, Nodes),
    {MFAPattern, ByMFA} = first_match(fun(Pattern) -> mfa_match(Pattern, MFA) end, MFAs),
    Budget = maps:merge(maps:merge(maps:merge(builtin_default(), Default), ByNode), ByMFA),
    %% Spawns share a concurrency count when their limit comes from the
    %% same entry (per sending node).
    Scope = if
                is_map_key(concurrency, ByMFA) -> {mfas, MFAPattern};
                is_map_key(concurrency, ByNode) -> {nodes, element(1, NodePattern)};
                true -> default
            end,
    {Budget, Scope, {Interval, Trace}}.

first_match(_Pred, []) -> {none, #{}};
first_match(Pred, [{Pattern, Budget} | Rest]) ->
    case Pred(Pattern) of
        true -> {Pattern, Budget};
        false -> first_match(Pred, Rest)
    end.

mfa_match({PM, PF, PA}, {M, F, A}) ->
    (PM =:= '_' orelse PM =:= M) andalso (PF =:= '_' orelse PF =:= F)
        andalso (PA =:= '_' orelse PA =:= A).

%% The parsed configuration, cached with the raw value it came from.
config() ->
    Raw = application:get_env(erldist_filter, spawn_budget, #{}),
    case persistent_term:get(?CONFIG_KEY, undefined) of
        {Raw, Config} ->
            Config;
        _ ->
            Config = parse(Raw),
            persistent_term:put(?CONFIG_KEY, {Raw, Config}),
            Config
    end.

parse(Raw) when is_map(Raw) ->
    Known = [default, nodes, mfas, interval_ms, trace_near_limit],
    _ = [bad(key, K) || K <- maps:keys(Raw), not lists:member(K, Known)],
    #config{default = parse_budget(maps:get(default, Raw, #{})),
            nodes = parse_list(nodes, maps:get(nodes, Raw, []), fun parse_node_pattern/1),
            mfas = parse_list(mfas, maps:get(mfas, Raw, []), fun parse_mfa_pattern/1),
            interval_ms = case maps:get(interval_ms, Raw, ?DEFAULT_INTERVAL_MS) of
                              I when is_integer(I), I >= 1 -> I;
                              I -> bad(interval_ms, I), ?DEFAULT_INTERVAL_MS
                          end,
            trace = case maps:get(trace_near_limit, Raw, false) of
                        T when is_boolean(T) -> T;
                        T -> bad(trace_near_limit, T), false
                    end};
parse(Raw) when is_list(Raw) ->
    parse(maps:from_list([P || P = {_, _} <- Raw]));
parse(Raw) ->
    bad(spawn_budget, Raw),
    parse(#{}).

parse_list(Key, List, ParsePattern) when is_list(List) ->
    lists:filtermap(fun({Pattern, Budget}) ->
                            case ParsePattern(Pattern) of
                                {ok, P} -> {true, {P, parse_budget(Budget)}};
                                error -> bad(Key, Pattern), false
                            end;
                       (Other) ->
                            bad(Key, Other), false
                    end, List);
parse_list(Key, Other, _) ->
    bad(Key, Other),
    [].

parse_budget(Budget) when is_map(Budget) ->
    maps:filter(fun(K, V) ->
                        case lists:member(K, ?FIELDS) andalso valid_limit(V) of
                            true -> true;
                            false -> bad(K, V), false
                        end
                end, Budget);
parse_budget(Budget) when is_list(Budget) ->
    parse_budget(maps:from_list([P || P = {_, _} <- Budget]));
parse_budget(Other) ->
    bad(budget, Other),
    #{}.

valid_limit(infinity) -> true;
valid_limit(N) -> is_integer(N) andalso N >= 0.

parse_node_pattern('_') -> {ok, {'_', fun(_) -> true end}};
parse_node_pattern(Name) when is_atom(Name) ->
    S = atom_to_list(Name),
    {ok, {Name, fun(N) -> N =:= S end}};
parse_node_pattern(Glob) when is_list(Glob) ->
    case io_lib:printable_unicode_list(Glob) of
        true -> {ok, {Glob, fun(N) -> glob(Glob, N) end}};
        false -> error
    end;
parse_node_pattern(Glob) when is_binary(Glob) ->
    parse_node_pattern(unicode:characters_to_list(Glob));
parse_node_pattern(_) ->
    error.

parse_mfa_pattern({M, F, A} = P) when is_atom(M), is_atom(F), (is_integer(A) orelse A =:= '_') ->
    {ok, P};
parse_mfa_pattern(_) ->
    error.

glob([], []) -> true;
glob([$* | Rest], Name) -> glob_star(Rest, Name);
glob([C | Rest], [C | Name]) -> glob(Rest, Name);
glob(_, _) -> false.

glob_star(Rest, Name) ->
    glob(Rest, Name) orelse (Name =/= [] andalso glob_star(Rest, tl(Name))).

bad(What, Value) ->
    ?LOG_ERROR(#{what => bad_spawn_budget, key => What, value => Value},
               #{domain => [erldist_filter]}).

%%% gen_server: owns the table

%% @private
init([]) ->
    _ = ets:new(?TABLE, [named_table, public, set, {write_concurrency, true}]),
    case persistent_term:get(?COUNTERS_KEY, undefined) of
        undefined -> persistent_term:put(?COUNTERS_KEY, counters:new(4, [write_concurrency]));
        _ -> ok
    end,
    {ok, #{}}.

%% @private
handle_call(_Request, _From, State) ->
    {reply, {error, badarg}, State}.

%% @private
handle_cast(_Request, State) ->
    {noreply, State}.

%% @private
handle_info(_Info, State) ->
    {noreply, State}.

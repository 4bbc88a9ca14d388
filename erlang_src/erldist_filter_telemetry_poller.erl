%%% @doc Turns the NIF's per-channel counters into
%%% `[erldist_filter, message, dropped | redirected]' and
%%% `[erldist_filter, limit, hit]' (`limit => rate') events.
%%%
%%% The NIF counts drops and redirects per channel and never calls back
%%% into Erlang, so the per-packet path stays free of event work. This
%%% process (a child of `erldist_filter_sup') samples every channel every
%%% `telemetry_interval_ms' (application environment, default 1000) and
%%% emits the increase per node, only while someone listens
%%% ({@link erldist_filter_telemetry:enabled/0}). The first sample after
%%% someone starts listening is the baseline; what a channel counted after
%%% its last sample and before it closed is not reported.
%%% @hidden Internal to the library, not an API.
-module(erldist_filter_telemetry_poller).
-behaviour(gen_server).

-export([child_spec/0]).
-export([start_link/0]).
-export([sample/0]).
%% gen_server
-export([init/1, handle_call/3, handle_cast/2, handle_info/2]).

-define(DEFAULT_INTERVAL_MS, 1000).

%% Counter => the event it becomes.
-define(COUNTERS, [{drop_count, [erldist_filter, message, dropped], #{}},
                   {redirect_count, [erldist_filter, message, redirected], #{}},
                   {flood_drop_count, [erldist_filter, limit, hit], #{limit => rate, action => drop}}]).

%% @doc Child spec for `erldist_filter_sup'.
-spec child_spec() -> supervisor:child_spec().
child_spec() ->
    #{id => ?MODULE, start => {?MODULE, start_link, []}, restart => permanent,
      shutdown => 5000, type => worker, modules => [?MODULE]}.

%% @doc Start and register the poller.
-spec start_link() -> gen_server:start_ret().
start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% @doc Sample now instead of waiting for the next tick (returns when the
%% events were emitted).
-spec sample() -> ok.
sample() ->
    gen_server:call(?MODULE, sample).

%% @private
init([]) ->
    self() ! tick,
    {ok, undefined}.

%% @private
handle_call(sample, _From, Previous) ->
    {reply, ok, poll(Previous)}.

%% @private
handle_cast(_Msg, Previous) ->
    {noreply, Previous}.

%% @private
handle_info(tick, Previous) ->
    _ = erlang:send_after(interval(), self(), tick),
    {noreply, poll(Previous)};
handle_info(_Info, Previous) ->
    {noreply, Previous}.

%%% Internal

%% `Previous' is `undefined' while nobody listens, else the last counters
%% per channel.
poll(Previous) ->
    ok = erldist_filter_telemetry:refresh_forwarding(),
    case erldist_filter_telemetry:enabled() of
        false -> undefined;
        true -> emit(Previous, counters())
    end.

emit(undefined, Current) ->
    Current;
emit(Previous, Current) ->
    maps:foreach(fun(Channel, {Node, Counts}) ->
                         {_, Before} = maps:get(Channel, Previous, {Node, #{}}),
                         [emit_delta(Event, Meta, Node, maps:get(Key, Counts) - maps:get(Key, Before, 0))
                          || {Key, Event, Meta} <- ?COUNTERS]
                 end, Current),
    Current.

emit_delta(_Event, _Meta, _Node, 0) ->
    ok;
emit_delta(Event, Meta, Node, Delta) ->
    erldist_filter_telemetry:execute(Event, #{count => Delta}, Meta#{node => Node}).

counters() ->
    maps:from_list([{Channel, Counts} || Channel <- erldist_filter_nif:channel_list(),
                                         {ok, Counts} <- [inspect(Channel)]]).

%% A channel may close between the list and the inspection.
inspect(Channel) ->
    try erldist_filter_nif:channel_inspect(Channel) of
        #{entry := #{sysname := Node}, rx := #{stats := Stats}} ->
            {ok, {Node, maps:with([Key || {Key, _, _} <- ?COUNTERS], Stats)}};
        _ ->
            error
    catch
        error:_ -> error
    end.

interval() ->
    case application:get_env(erldist_filter, telemetry_interval_ms, ?DEFAULT_INTERVAL_MS) of
        N when is_integer(N), N > 0 -> N;
        _ -> ?DEFAULT_INTERVAL_MS
    end.

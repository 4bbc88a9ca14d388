%%% @doc What the live view ({@link erldist_filter_top}) needs beyond the
%%% NIF's counters, collected on the watched node while a view is open:
%%% the last reports the library logged (OTP `logger', domain
%%% `[erldist_filter]', any level the primary level lets through) and the
%%% spawn-budget kills per node (`[erldist_filter, budget, exceeded]'
%%% events) since the collector started.
%%%
%%% It starts on the first {@link fetch/1} and stops, removing its logger
%%% handler and telemetry handler, on {@link stop/0} or when nobody has
%%% fetched for 10 seconds (a view that went away without saying so).
%%% @hidden Internal to the library, not an API.
-module(erldist_filter_top_collector).

-export([fetch/1]).
-export([stop/0]).
%% logger handler callback
-export([log/2]).
%% Spawned
-export([init/1]).

-define(NAME, ?MODULE).
-define(IDLE_MS, 10000).
-define(MAX_EVENTS, 100).

%% @doc The kills per node and the last `N' logged reports (newest
%% first), as `{SystemTimeMs, Level, Report}'. Starts the collector when
%% needed.
-spec fetch(non_neg_integer()) ->
          #{kills := #{node() => pos_integer()}, events := [{integer(), logger:level(), term()}]}.
fetch(N) ->
    Pid = ensure_started(),
    Ref = erlang:monitor(process, Pid),
    Pid ! {fetch, self(), Ref, N},
    receive
        {Ref, Reply} -> erlang:demonitor(Ref, [flush]), Reply;
        {'DOWN', Ref, process, _, _} -> #{kills => #{}, events => []}
    end.

%% @doc Stop collecting (the view quit).
-spec stop() -> ok.
stop() ->
    case whereis(?NAME) of
        undefined -> ok;
        Pid ->
            Ref = erlang:monitor(process, Pid),
            Pid ! stop,
            receive {'DOWN', Ref, process, _, _} -> ok end
    end.

%% @private logger callback: forward the report to the collector.
log(#{level := Level, msg := Msg, meta := Meta}, #{config := #{pid := Pid}}) ->
    Time = maps:get(time, Meta, os:system_time(microsecond)) div 1000,
    Pid ! {log, Time, Level, Msg},
    ok.

%% Not linked: the caller may be a short-lived process (a remote call).
ensure_started() ->
    case whereis(?NAME) of
        undefined ->
            Pid = spawn(?MODULE, init, [self()]),
            Ref = erlang:monitor(process, Pid),
            receive
                {Pid, started} -> erlang:demonitor(Ref, [flush]), Pid;
                {'DOWN', Ref, process, Pid, _} -> ensure_started()  % lost a race: use the winner
            end;
        Pid ->
            Pid
    end.

%% @private
init(Parent) ->
    true = register(?NAME, self()),
    Self = self(),
    %% A collector that was killed could not clean up after itself.
    _ = erldist_filter_telemetry:detach(?NAME),
    ok = erldist_filter_telemetry:attach(?NAME, [erldist_filter, budget, exceeded],
                                         fun(_, _, #{node := Node}, Pid) -> Pid ! {kill, Node} end,
                                         Self),
    _ = logger:remove_handler(?NAME),
    ok = logger:add_handler(?NAME, ?MODULE,
                            #{level => all, filter_default => stop,
                              filters => [{erldist_filter, {fun logger_filters:domain/2,
                                                            {log, sub, [erldist_filter]}}}],
                              config => #{pid => Self}}),
    Parent ! {Self, started},
    loop(#{}, []).

loop(Kills, Events) ->
    receive
        {kill, Node} ->
            loop(maps:update_with(Node, fun(N) -> N + 1 end, 1, Kills), Events);
        {log, Time, Level, Msg} ->
            loop(Kills, lists:sublist([{Time, Level, Msg} | Events], ?MAX_EVENTS));
        {fetch, From, Ref, N} ->
            From ! {Ref, #{kills => Kills, events => lists:sublist(Events, N)}},
            loop(Kills, Events);
        stop ->
            cleanup()
    after ?IDLE_MS ->
            cleanup()
    end.

cleanup() ->
    _ = erldist_filter_telemetry:detach(?NAME),
    _ = logger:remove_handler(?NAME),
    ok.

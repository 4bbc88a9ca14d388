%%% @doc A live terminal view of the filter, like `top': one row per
%%% connected node, refreshed every second, and the last reports the
%%% library logged.
%%%
%%% ```
%%% 1> erldist_filter_top:start().
%%% '''
%%% (`EDF.top()' from iex.) Columns, per remote node (summed over its
%%% channels): packets/s and bytes/s received, messages dropped,
%%% redirected to the handler and logged, limit hits (limits that closed a
%%% channel, and messages dropped over a rate with `rate_policy => drop'),
%%% spawn-budget kills since the view opened, and atom-cache entries in
%%% use. Below, the newest reports of domain `[erldist_filter]' (policy
%%% decisions, budget hits, closed connections).
%%%
%%% Type a key and Enter at the `top>' prompt: `p' `b' `d' `r' `l' `h'
%%% `k' `a' sort by that column (largest first), `n' by node name, `q'
%%% quits (so does end of input). Nothing stays behind: the collector's
%%% handlers are removed when the view quits.
%%%
%%% The counters come from `erldist_filter_nif:channel_list/0' and
%%% `channel_inspect/1', the kills and reports from
%%% {@link erldist_filter_top_collector}.
-module(erldist_filter_top).

-export([start/0]).
-export([start/1]).
-export([sample/1]).

-export_type([options/0, sort_key/0]).

-type sort_key() :: packets | bytes | drops | redirects | logs | limits | kills | atoms | node.
-type options() :: #{interval_ms => pos_integer(),
                     events => non_neg_integer(),
                     sort => sort_key(),
                     sample => fun((non_neg_integer()) -> sample())}.
-type sample() :: #{node := node(), time := integer(), channels := [map()],
                    kills := #{node() => pos_integer()}, events := [tuple()]}.

-define(PROMPT, "top> ").
%% Counter in channel stats => column.
-define(COUNTERS, [{packet_count, packets}, {bytes_in, bytes}, {drop_count, drops},
                   {redirect_count, redirects}, {log_count, logs}, {limit_hits, limits},
                   {flood_drop_count, limits}]).
-define(KEYS, [{$p, packets}, {$b, bytes}, {$d, drops}, {$r, redirects}, {$l, logs},
               {$h, limits}, {$k, kills}, {$a, atoms}, {$n, node}]).

-record(view, {interval :: pos_integer(),
               events :: non_neg_integer(),
               sort :: sort_key(),
               sample :: fun((non_neg_integer()) -> sample()),
               reader :: pid(),
               previous = #{} :: #{term() => {integer(), map()}},
               current :: sample() | undefined,
               note = "" :: string()}).

%% @doc Open the view on this node; returns when it quits.
-spec start() -> ok.
start() ->
    start(#{}).

%% @doc Open the view. Options: `interval_ms' (1000), `events' (how many
%% reports to show, 10), `sort' (`packets'), and `sample', the function
%% that reads the watched node (default {@link sample/1} here; the demo
%% passes one that calls it on a peer).
-spec start(options()) -> ok.
start(Options) when is_map(Options) ->
    Self = self(),
    Reader = spawn_link(fun() -> reader(Self) end),
    View = #view{interval = maps:get(interval_ms, Options, 1000),
                 events = maps:get(events, Options, 10),
                 sort = maps:get(sort, Options, packets),
                 sample = maps:get(sample, Options, fun sample/1),
                 reader = Reader},
    try
        loop(refresh(View))
    after
        unlink(Reader),
        exit(Reader, kill),
        erldist_filter_top_collector:stop()
    end.

%% @doc What the view shows, read on this node: every channel's counters,
%% and from the collector the kills per node and the last `Events'
%% reports.
-spec sample(non_neg_integer()) -> sample().
sample(Events) ->
    Collected = erldist_filter_top_collector:fetch(Events),
    Collected#{node => node(), time => erlang:monotonic_time(millisecond),
               channels => [C || Ch <- erldist_filter_nif:channel_list(), {ok, C} <- [channel(Ch)]]}.

%%% Internal

%% A channel may close between the list and the inspection.
channel(Channel) ->
    try erldist_filter_nif:channel_inspect(Channel) of
        #{entry := #{sysname := Node}, rx := #{stats := Stats, atom_cache := Atoms}} ->
            Counts = lists:foldl(fun({Key, Column}, Acc) ->
                                         maps:update_with(Column, fun(V) -> V + maps:get(Key, Stats, 0) end,
                                                          maps:get(Key, Stats, 0), Acc)
                                 end, #{}, ?COUNTERS),
            {ok, #{channel => Channel, node => Node, counts => Counts, atoms => length(Atoms)}};
        _ ->
            error
    catch
        error:_ -> error
    end.

%% Input arrives a line at a time (the shell edits the line); the reader
%% asks for the next one only when told, so no read is pending at exit.
reader(View) ->
    Line = io:get_line(?PROMPT),
    View ! {self(), line, Line},
    receive {View, next} -> reader(View) end.

loop(View = #view{reader = Reader, interval = Interval}) ->
    receive
        {Reader, line, Line} when is_list(Line); is_binary(Line) ->
            case string:trim(unicode:characters_to_list(Line)) of
                "q" ++ _ -> ok;
                Key ->
                    Reader ! {self(), next},
                    loop(render(key(Key, View)))
            end;
        {Reader, line, _EofOrError} ->
            ok
    after Interval ->
            loop(refresh(View))
    end.

key([], View) ->
    View#view{note = ""};
key([C | _], View) ->
    case lists:keyfind(C, 1, ?KEYS) of
        {C, Sort} -> View#view{sort = Sort, note = ""};
        false -> View#view{note = "unknown key " ++ [C]}
    end.

%% Rates compare the new sample with the one before it; a key press
%% redraws the same pair at once.
refresh(View = #view{sample = Sample, events = N, current = Current}) ->
    Previous = case Current of
                   undefined -> #{};
                   #{time := Then, channels := Channels} ->
                       maps:from_list([{C, {Then, Counts}} || #{channel := C, counts := Counts} <- Channels])
               end,
    render(View#view{previous = Previous, current = Sample(N)}).

render(View = #view{previous = Previous, sort = Sort, current = Sample}) ->
    #{node := Node, time := Now, channels := Channels, kills := Kills, events := Events} = Sample,
    Rows = sort(Sort, rows(Channels, Kills, Previous, Now)),
    io:put_chars([<<"\e[H\e[2J">>,
                  header(Node, Sort, length(Channels), View#view.note),
                  io_lib:format("~-40s ~9s ~11s ~7s ~7s ~7s ~7s ~6s ~6s~n",
                                ["NODE", "PKTS/S", "BYTES/S", "DROPS", "REDIR", "LOGS", "LIMITS",
                                 "KILLS", "ATOMS"]),
                  [row(R) || R <- Rows],
                  io_lib:format("~nLast events (domain [erldist_filter]):~n", []),
                  [event(E) || E <- Events]]),
    View.

header(Node, Sort, Count, Note) ->
    {{Y, Mo, D}, {H, Mi, S}} = calendar:local_time(),
    io_lib:format("erldist_filter top  ~s  ~4..0b-~2..0b-~2..0b ~2..0b:~2..0b:~2..0b  channels: ~b  sort: ~s~n"
                  "keys: p b d r l h k a sort by column, n by node, q quit  ~s~n~n",
                  [Node, Y, Mo, D, H, Mi, S, Count, Sort, Note]).

%% One row per node: rates from the difference with the previous sample
%% of the same channel (a new channel starts at zero), totals summed.
rows(Channels, Kills, Previous, Now) ->
    PerNode = lists:foldl(
                fun(#{channel := C, node := Node, counts := Counts, atoms := Atoms}, Acc) ->
                        Rates = case Previous of
                                    #{C := {Then, Before}} when Now > Then ->
                                        #{packets => rate(packets, Counts, Before, Now - Then),
                                          bytes => rate(bytes, Counts, Before, Now - Then)};
                                    _ ->
                                        #{packets => 0, bytes => 0}
                                end,
                        Row = maps:merge(maps:with([drops, redirects, logs, limits], Counts),
                                         Rates#{atoms => Atoms}),
                        maps:update_with(Node, fun(R) -> add(R, Row) end, Row, Acc)
                end, #{}, Channels),
    [Row#{node => Node, kills => maps:get(Node, Kills, 0)} || {Node, Row} <- maps:to_list(PerNode)].

rate(Key, Counts, Before, Ms) ->
    (maps:get(Key, Counts) - maps:get(Key, Before, 0)) * 1000 div Ms.

add(A, B) ->
    maps:map(fun(K, V) -> V + maps:get(K, B) end, A).

sort(node, Rows) ->
    lists:sort(fun(#{node := A}, #{node := B}) -> A =< B end, Rows);
sort(Key, Rows) ->
    lists:sort(fun(A, B) -> {maps:get(Key, A), maps:get(node, B)} >= {maps:get(Key, B), maps:get(node, A)} end,
               Rows).

row(#{node := Node, packets := P, bytes := B, drops := D, redirects := R, logs := L,
      limits := H, kills := K, atoms := A}) ->
    io_lib:format("~-40s ~9b ~11b ~7b ~7b ~7b ~7b ~6b ~6b~n", [Node, P, B, D, R, L, H, K, A]).

event({TimeMs, Level, Msg}) ->
    {_, {H, Mi, S}} = calendar:system_time_to_local_time(TimeMs, millisecond),
    Text = case Msg of
               {report, Report} when is_map(Report) ->
                   %% What happened and to whom first: the line is cut.
                   First = [K || K <- [what, node], is_map_key(K, Report)],
                   Rest = lists:sort(maps:keys(maps:without(First, Report))),
                   lists:join(" ", [io_lib:format("~0tp=~0tp", [K, maps:get(K, Report)])
                                    || K <- First ++ Rest]);
               {report, Report} -> io_lib:format("~0tp", [Report]);
               {string, String} -> String;
               {Format, Args} -> io_lib:format(Format, Args)
           end,
    Line = string:slice(unicode:characters_to_list(io_lib:format("~2..0b:~2..0b:~2..0b ~-7s ~ts",
                                                                 [H, Mi, S, Level, Text])), 0, 160),
    [Line, $\n].

%%% @doc What the filter saw, as text for a person at a shell: the
%%% non-zero counters of `erldist_filter_nif:world_stats_get/0' (every
%%% channel, open and closed), then per connected node the identity and
%%% non-zero counters of its open channel (`channel_inspect/1').
%%% `erldist_filter:world_stats_print/0' prints it; `EDF.world_stats_print/0'
%%% from iex.
%%% @hidden Internal to the library, not an API.
-module(erldist_filter_stats).

-export([format/0]).

%% @doc The text, one counter a line (`dop_reg_send.seen 4').
-spec format() -> unicode:chardata().
format() ->
    Stats = erldist_filter_nif:world_stats_get(),
    World = [{"channel." ++ K, V} || {K, V} <- flatten(maps:get(channel, Stats))]
        ++ [{"memory." ++ K, V} || {K, V} <- flatten(maps:get(memory, Stats, #{}))]
        ++ [{"spawn_budget." ++ K, V} || {K, V} <- flatten(maps:get(spawn_budget, Stats, #{}))],
    [io_lib:format("erldist_filter on ~s, every channel (open and closed):~n", [node()]),
     counters("  ", World)
     | [channel(C) || C <- erldist_filter_nif:channel_list()]].

%% A channel closed since it was listed has nothing to say.
channel(Channel) ->
    case erldist_filter_nif:channel_inspect(Channel) of
        #{entry := #{sysname := From} = Entry, rx := Rx} = Info ->
            [io_lib:format("from ~s (owner ~p, flags 16#~.16B, creation ~b, buffered ~b bytes):~n",
                           [From, maps:get(controlling_process, Info), maps:get(dflags, Entry),
                            maps:get(creation, Entry), maps:get(buffered_bytes, Rx, 0)]),
             counters("  ", flatten(maps:get(stats, Rx, #{})))];
        _ ->
            []
    end.

counters(Indent, Pairs) ->
    case [io_lib:format("~s~-46s ~b~n", [Indent, K, V]) || {K, V} <- Pairs, V =/= 0] of
        [] -> [Indent, "(all zero)\n"];
        Lines -> Lines
    end.

%% Nested counter maps as sorted `{"a.b", Count}' pairs:
%% `#{dop_reg_send => #{seen => 4}}' becomes `[{"dop_reg_send.seen", 4}]'.
%% Values that are not integers are left out.
flatten(Map) ->
    lists:sort(lists:append([flatten(atom_to_list(K), V) || {K, V} <- maps:to_list(Map)])).

flatten(Prefix, Map) when is_map(Map) ->
    [{Prefix ++ "." ++ Key, V} || {Key, V} <- flatten(Map)];
flatten(Prefix, Value) when is_integer(Value) ->
    [{Prefix, Value}];
flatten(_Prefix, _Value) ->
    [].

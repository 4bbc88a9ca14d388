%% @doc Scale benchmark: one VM holding as many channels as a node of a
%% ~30,000-node cluster would (one per connection), all idle.
%% Reports the memory each idle channel costs (the VM's own count and the
%% process RSS, which includes the NIF's Rust heap), `channel_open/5' in
%% µs each, and how long `world_stats_get/0' and `channel_list/0' take
%% with all of them open (min / median of 11 calls).
%%
%% Run: `bash bench/run scale [Channels]' (default 30000).
-module(edf_bench_scale).

-export([main/1]).

%% OTP 25 defaults, as negotiated by two OTP 25 nodes.
-define(FLAGS, 16#D07DF7FBD).

-spec main([string()]) -> ok.
main(Args) ->
    N = case Args of
            [A] -> list_to_integer(A);
            [] -> 30000
        end,
    %% One sender node per channel, as in a real cluster; atoms made first
    %% so that they are not counted as channel memory.
    Nodes = [list_to_atom("edf_scale_" ++ integer_to_list(I) ++ "@10.0.0.1") || I <- lists:seq(1, N)],
    Warm = erldist_filter_nif:channel_open(4, hd(Nodes), 1, 0, ?FLAGS),
    ok = erldist_filter_nif:channel_close(Warm),
    garbage_collect(),
    {Vm0, Rss0} = memory(),
    T0 = erlang:monotonic_time(nanosecond),
    Channels = open(Nodes, 1, []),
    OpenNs = erlang:monotonic_time(nanosecond) - T0,
    garbage_collect(),
    {Vm1, Rss1} = memory(),
    N = length(erldist_filter_nif:channel_list()),
    io:format("scale: ~b idle channels in one VM~n", [N]),
    io:format("channel_open/5:            ~8.2f us each (~b in ~.1f ms)~n",
              [OpenNs / N / 1000, N, OpenNs / 1.0e6]),
    io:format("memory per channel:        ~8b bytes (VM erlang:memory/0), ~b bytes (RSS)~n",
              [(Vm1 - Vm0) div N, (Rss1 - Rss0) div N]),
    timing("world_stats_get/0", fun erldist_filter_nif:world_stats_get/0),
    timing("channel_list/0", fun erldist_filter_nif:channel_list/0),
    timing("channel_inspect/1 (one)", fun() -> erldist_filter_nif:channel_inspect(hd(Channels)) end),
    T1 = erlang:monotonic_time(nanosecond),
    [ok = erldist_filter_nif:channel_close(C) || C <- Channels],
    io:format("channel_close/1:           ~8.2f us each~n",
              [(erlang:monotonic_time(nanosecond) - T1) / N / 1000]),
    ok.

open([Node | Nodes], I, Acc) ->
    open(Nodes, I + 1, [erldist_filter_nif:channel_open(4, Node, I, I, ?FLAGS) | Acc]);
open([], _I, Acc) ->
    lists:reverse(Acc).

memory() ->
    {erlang:memory(total), rss()}.

%% Resident set size from /proc (Linux), in bytes.
rss() ->
    {ok, Statm} = file:read_file("/proc/self/statm"),
    [_Size, Resident | _] = binary:split(Statm, <<" ">>, [global]),
    binary_to_integer(Resident) * 4096.

timing(Name, Fun) ->
    Times = [begin
                 T0 = erlang:monotonic_time(nanosecond),
                 _ = Fun(),
                 erlang:monotonic_time(nanosecond) - T0
             end || _ <- lists:seq(1, 11)],
    Sorted = lists:sort(Times),
    io:format("~-26s ~8.3f ms min, ~.3f ms median~n",
              [Name ++ ":", hd(Sorted) / 1.0e6, lists:nth(6, Sorted) / 1.0e6]).

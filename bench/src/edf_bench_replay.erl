%% @doc Replay benchmark: every corpus in `../shared/corpus' through
%% `erldist_filter_nif:channel_recv/2', next to two receivers without a
%% filter timed in the same run:
%% <ul>
%% <li>`split': an Erlang loop that only cuts the 4-byte length-prefixed
%%     packets out of the chunks (the least any receiver must do);</li>
%% <li>`decode_packet': the same with `erlang:decode_packet(4, ...)'.</li>
%% </ul>
%% Each corpus is fed three ways: the recorded socket reads (`recorded'),
%% one packet per call (`packet') and 64 KiB chunks (`64k'); the filter
%% runs in four configurations (see `variants/0'). Every timing is one pass
%% over the whole corpus; the report gives the min and median of `reps'
%% passes as ns/packet, packets/s and MB/s of the median, and the ratio of
%% the min to each baseline's min (`x split', `x d_p' for decode_packet).
%%
%% Run: `bash bench/run replay [Reps] [Corpus...]'.
-module(edf_bench_replay).

-export([main/1]).
-export([pass/3]).
-export([mins/4]).

-define(SWITCHES, [deep_packet_inspection, logging, compact_fragments,
                   redirect_dist_operations]).

%% @doc `Args': optional repetition count, then corpus names.
-spec main([string()]) -> ok.
main(Args) ->
    {Reps, Names} = case Args of
                        [R | Rest] when R >= "0", R =< "9~" -> {list_to_integer(R), Rest};
                        _ -> {5, Args}
                    end,
    Corpora = case Names of
                  [] -> corpus_names();
                  _ -> Names
              end,
    io:format("replay: ~b passes each; ns/packet min / median; rates of the median~n", [Reps]),
    io:format("ratios compare the min of each receiver with the min of a baseline~n"),
    io:format("~-14s ~-9s ~-24s ~9s ~9s ~11s ~9s ~7s ~7s~n",
              ["corpus", "chunks", "receiver", "min", "median", "packets/s", "MB/s", "x split",
               "x d_p"]),
    lists:foreach(fun(Name) -> corpus(Name, Reps) end, Corpora).

corpus_names() ->
    Dir = filename:join(edf_corpus:shared_dir(), "corpus"),
    lists:sort([filename:basename(F, ".bin") || F <- filelib:wildcard(filename:join(Dir, "*.bin"))]).

corpus(Name, Reps) ->
    #{bin := Bin, chunk_sizes := Sizes} = Corpus = edf_corpus:load(Name),
    Packets = length(edf_corpus:packets(Bin)),
    Chunkings = [{"recorded", edf_corpus:recorded_chunks(Bin, Sizes)},
                 {"packet", edf_corpus:packet_chunks(Bin)},
                 {"64k", edf_corpus:fixed_chunks(Bin, 65536)}],
    lists:foreach(fun({ChunkName, Chunks}) ->
                          Split = measure(Reps, fun() -> split(Chunks) end),
                          Decode = measure(Reps, fun() -> decode_packet(Chunks) end),
                          Rows = [{"split", Split},
                                  {"decode_packet", Decode}
                                  | [{"nif " ++ VName, with_config(Config, fun() ->
                                        measure(Reps, fun() -> nif(Corpus, Chunks) end) end)}
                                     || {VName, Config} <- variants()]],
                          [row(Name, ChunkName, RName, T, Packets, byte_size(Bin), Split, Decode)
                           || {RName, T} <- Rows]
                  end, Chunkings).

%% @doc One filter pass of one corpus, chunking (`"recorded"', `"packet"',
%% `"64k"') and variant (see `variants/0'), for profilers.
-spec pass(string(), string(), string()) -> ok.
pass(Name, ChunkName, VName) ->
    {Corpus, Chunks, Config} = load(Name, ChunkName, VName),
    with_config(Config, fun() -> nif(Corpus, Chunks) end).

%% @doc Min ns of `Reps' passes of `decode_packet' and of the filter in
%% variant `VName' over one corpus and chunking, timed one after the other.
-spec mins(string(), string(), string(), pos_integer()) ->
          #{decode_packet := pos_integer(), filter := pos_integer(), packets := pos_integer()}.
mins(Name, ChunkName, VName, Reps) ->
    {#{bin := Bin} = Corpus, Chunks, Config} = load(Name, ChunkName, VName),
    Decode = measure(Reps, fun() -> decode_packet(Chunks) end),
    Filter = with_config(Config, fun() -> measure(Reps, fun() -> nif(Corpus, Chunks) end) end),
    #{decode_packet => lists:min(Decode), filter => lists:min(Filter),
      packets => length(edf_corpus:packets(Bin))}.

%% One corpus, cut into chunks, and a variant's configuration.
load(Name, ChunkName, VName) ->
    #{bin := Bin, chunk_sizes := Sizes} = Corpus = edf_corpus:load(Name),
    Chunks = case ChunkName of
                 "recorded" -> edf_corpus:recorded_chunks(Bin, Sizes);
                 "packet" -> edf_corpus:packet_chunks(Bin);
                 "64k" -> edf_corpus:fixed_chunks(Bin, 65536)
             end,
    {_, Config} = lists:keyfind(VName, 1, variants()),
    {Corpus, Chunks, Config}.

%% The filter's configurations: name and the switches that are on.
variants() ->
    [{"dpi_off", []},
     {"dpi_on", [deep_packet_inspection]},
     {"dpi_log", [deep_packet_inspection, logging]},
     {"dpi_compact_redirect", [deep_packet_inspection, compact_fragments,
                               redirect_dist_operations]}].

%% Run `Fun' with exactly `On' switched on; with logging, a process drains
%% the logger queue meanwhile, as a logger pool would.
with_config(On, Fun) ->
    ok = erldist_filter_nif:config_set(maps:from_list([{K, lists:member(K, On)} || K <- ?SWITCHES])),
    Drainer = case lists:member(logging, On) of
                  true -> start_drainer();
                  false -> undefined
              end,
    try Fun()
    after
        stop_drainer(Drainer),
        ok = erldist_filter_nif:config_set(maps:from_list([{K, false} || K <- ?SWITCHES]))
    end.

start_drainer() ->
    Parent = self(),
    Pid = spawn_link(fun() ->
                             Logger = erldist_filter_nif:logger_open(),
                             Parent ! {self(), ready},
                             drain(Logger, 0)
                     end),
    receive {Pid, ready} -> Pid end.

drain(Logger, N) ->
    case erldist_filter_nif:logger_recv(Logger) of
        {_Count, _Dropped, Events} ->
            drain(Logger, N + length(Events));
        {select, _Ref} ->
            receive
                {'$logger', Logger, select, _} -> drain(Logger, N);
                {stop, From} -> From ! {self(), N}
            end
    end.

stop_drainer(undefined) ->
    ok;
stop_drainer(Pid) ->
    Pid ! {stop, self()},
    receive {Pid, _Events} -> ok end.

%% Times of `Reps' passes, in ns.
measure(Reps, Fun) ->
    [begin
         garbage_collect(),
         T0 = erlang:monotonic_time(nanosecond),
         _ = Fun(),
         erlang:monotonic_time(nanosecond) - T0
     end || _ <- lists:seq(1, Reps)].

row(Corpus, Chunks, Receiver, Times, Packets, Bytes, Split, Decode) ->
    Min = lists:min(Times),
    Med = median(Times),
    io:format("~-14s ~-9s ~-24s ~9.1f ~9.1f ~11b ~9.1f ~7.2f ~7.2f~n",
              [Corpus, Chunks, Receiver, Min / Packets, Med / Packets,
               round(Packets / Med * 1.0e9), Bytes / Med * 1.0e3,
               Min / lists:min(Split), Min / lists:min(Decode)]).

median(Times) ->
    lists:nth((length(Times) + 1) div 2, lists:sort(Times)).

nif(Corpus, Chunks) ->
    C = edf_corpus:open(Corpus),
    ok = nif_loop(C, Chunks),
    ok = erldist_filter_nif:channel_close(C).

%% As the carrier calls it: one read, as a one-element list.
nif_loop(C, [Chunk | Rest]) ->
    true = is_list(erldist_filter_nif:channel_recv(C, [Chunk])),
    nif_loop(C, Rest);
nif_loop(_C, []) ->
    ok.

%% The baselines keep a partial packet between chunks, as a receiver
%% reading `{packet, raw}' must; a chunk that starts on a boundary is used
%% as it is (no copy), as the filter does.
split(Chunks) ->
    split_loop(Chunks, <<>>).

split_loop([Chunk | Rest], Buf) ->
    split_loop(Rest, split_packets(join(Buf, Chunk)));
split_loop([], Buf) ->
    Buf.

%% A chunk that completes no packet is returned as it came (`Orig' is
%% never matched, so it is not turned into a sub-binary), so that appending
%% the next one can extend it in place, as `decode_packets/1' does.
split_packets(Bin) ->
    split_packets(Bin, Bin).

split_packets(_Orig, <<Len:32, Pkt:Len/binary, Rest/binary>>) ->
    _ = Pkt,
    split_packets(Rest, Rest);
split_packets(Orig, _) ->
    Orig.

decode_packet(Chunks) ->
    decode_loop(Chunks, <<>>).

decode_loop([Chunk | Rest], Buf) ->
    decode_loop(Rest, decode_packets(join(Buf, Chunk)));
decode_loop([], Buf) ->
    Buf.

decode_packets(Bin) ->
    case erlang:decode_packet(4, Bin, []) of
        {ok, _Pkt, Rest} -> decode_packets(Rest);
        {more, _} -> Bin
    end.

join(<<>>, Chunk) -> Chunk;
join(Buf, Chunk) -> <<Buf/binary, Chunk/binary>>.

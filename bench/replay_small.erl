%% @doc First replay benchmark: ns per packet of `channel_recv/2' over
%% small.bin fed with the recorded read sizes, against a pure-Erlang loop
%% that only splits the same chunks into length-prefixed packets (the least
%% any receiver must do).
%%
%% Run (from the project root, after `rebar3 compile'):
%%
%%   mkdir -p _build/bench && erlc -o _build/bench bench/replay_small.erl test/edf_corpus.erl && \
%%   EDF_SHARED=$PWD/../shared erl -noshell -pa _build/default/lib/erldist_filter/ebin \
%%       -pa _build/bench -eval 'replay_small:main(), halt().'
%%
%% First result (2 cores, shared machine, DPI off): NIF 559 ns/packet
%% (167 MB/s), baseline 199 ns/packet (469 MB/s), ratio 2.8.
%%
%% Options: `replay_small:main(#{corpus => "small.rev", rounds => 5})'.
%% Prints the best of `rounds' runs for each side, and the ratio.
-module(replay_small).

-export([main/0]).
-export([main/1]).

-spec main() -> ok.
main() ->
    main(#{}).

-spec main(#{corpus => string(), rounds => pos_integer()}) -> ok.
main(Opts) ->
    Name = maps:get(corpus, Opts, "small"),
    Rounds = maps:get(rounds, Opts, 5),
    #{bin := Bin, chunk_sizes := Sizes} = Corpus = edf_corpus:load(Name),
    Chunks = edf_corpus:recorded_chunks(Bin, Sizes),
    NPackets = length(edf_corpus:packets(Bin)),
    NifNs = best(Rounds, fun() -> nif_replay(Corpus, Chunks) end),
    ErlNs = best(Rounds, fun() -> erlang_split(Chunks) end),
    io:format("corpus ~s: ~b bytes, ~b packets, ~b chunks, best of ~b~n",
              [Name, byte_size(Bin), NPackets, length(Chunks), Rounds]),
    io:format("channel_recv/2 (NIF):      ~8.1f ns/packet  ~8.1f MB/s~n",
              [NifNs / NPackets, byte_size(Bin) / NifNs * 1000]),
    io:format("Erlang split (baseline):   ~8.1f ns/packet  ~8.1f MB/s~n",
              [ErlNs / NPackets, byte_size(Bin) / ErlNs * 1000]),
    io:format("ratio NIF / baseline:      ~8.2f~n", [NifNs / ErlNs]),
    ok.

best(Rounds, Fun) ->
    lists:min([begin
                   garbage_collect(),
                   {Us, _} = timer:tc(Fun),
                   Us * 1000
               end || _ <- lists:seq(1, Rounds)]).

nif_replay(Corpus, Chunks) ->
    C = edf_corpus:open(Corpus),
    N = nif_loop(C, Chunks, 0),
    ok = erldist_filter_nif:channel_close(C),
    N.

nif_loop(_C, [], N) ->
    N;
nif_loop(C, [Chunk | Rest], N) ->
    Actions = erldist_filter_nif:channel_recv(C, [Chunk]),
    nif_loop(C, Rest, N + length(Actions)).

%% Split each chunk into packets, keeping a partial packet between chunks
%% (what a receiver without a filter would do with {packet, 0} reads).
erlang_split(Chunks) ->
    split_loop(Chunks, <<>>, 0).

split_loop([], _Buf, N) ->
    N;
split_loop([Chunk | Rest], Buf, N) ->
    {Buf1, N1} = split(<<Buf/binary, Chunk/binary>>, N),
    split_loop(Rest, Buf1, N1).

split(<<Len:32, Pkt:Len/binary, Rest/binary>>, N) ->
    _ = Pkt,
    split(Rest, N + 1);
split(Rest, N) ->
    {Rest, N}.

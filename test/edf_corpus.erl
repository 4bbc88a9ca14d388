%% @doc Test and benchmark helper: find and read the shared distribution
%% traffic corpora (`$EDF_SHARED/corpus', see its README.md), split them
%% into packets and chunks, and replay them through a channel.
-module(edf_corpus).

-export([shared_dir/0]).
-export([load/1]).
-export([packets/1]).
-export([frames/1]).
-export([recorded_chunks/2]).
-export([fixed_chunks/2]).
-export([packet_chunks/1]).
-export([open/1]).
-export([open/2]).
-export([replay/2]).

-type corpus() :: #{name := string(),
                    bin := binary(),
                    chunk_sizes := [non_neg_integer()],
                    meta := #{atom() => term()}}.
-export_type([corpus/0]).

%% @doc `$EDF_SHARED', else `<root>/../shared' with the root from
%% `$EDF_ROOT' or found from where this module was loaded.
-spec shared_dir() -> file:filename().
shared_dir() ->
    case os:getenv("EDF_SHARED") of
        Dir when is_list(Dir), Dir =/= "" -> Dir;
        _ -> filename:join(root_dir(), "../shared")
    end.

root_dir() ->
    case os:getenv("EDF_ROOT") of
        Dir when is_list(Dir), Dir =/= "" -> Dir;
        _ -> find_root(filename:dirname(code:which(?MODULE)))
    end.

%% Walk up from the ebin (e.g. _build/test/lib/erldist_filter/test) until a
%% directory holding rebar.config and native/ appears.
find_root("/") ->
    error(project_root_not_found);
find_root(Dir) ->
    case filelib:is_file(filename:join(Dir, "rebar.config"))
         andalso filelib:is_dir(filename:join(Dir, "native")) of
        true -> Dir;
        false -> find_root(filename:dirname(Dir))
    end.

%% @doc Read `NAME.bin', `NAME.chunks' and `NAME.meta'.
-spec load(string()) -> corpus().
load(Name) ->
    Base = filename:join([shared_dir(), "corpus", Name]),
    {ok, Bin} = file:read_file(Base ++ ".bin"),
    {ok, ChunksBin} = file:read_file(Base ++ ".chunks"),
    {ok, Terms} = file:consult(Base ++ ".meta"),
    Sizes = [S || <<S:32>> <= ChunksBin],
    Sum = lists:sum(Sizes),
    Sum = byte_size(Bin),
    #{name => Name, bin => Bin, chunk_sizes => Sizes, meta => maps:from_list(Terms)}.

%% @doc Every packet of a 4-byte length-prefixed stream, ticks included (as
%% `<<>>').
-spec packets(binary()) -> [binary()].
packets(Bin) ->
    packets(Bin, []).

packets(<<Len:32, Pkt:Len/binary, Rest/binary>>, Acc) ->
    packets(Rest, [Pkt | Acc]);
packets(<<>>, Acc) ->
    lists:reverse(Acc).

%% @doc The frames a filter with nothing to filter must emit: the packets
%% without ticks.
-spec frames(binary()) -> [binary()].
frames(Bin) ->
    [P || P <- packets(Bin), P =/= <<>>].

%% @doc The stream cut where the recorded reads cut it.
-spec recorded_chunks(binary(), [non_neg_integer()]) -> [binary()].
recorded_chunks(Bin, Sizes) ->
    cut(Bin, Sizes, []).

cut(<<>>, [], Acc) ->
    lists:reverse(Acc);
cut(Bin, [S | Sizes], Acc) ->
    <<Chunk:S/binary, Rest/binary>> = Bin,
    cut(Rest, Sizes, [Chunk | Acc]).

%% @doc The stream cut every `Size' bytes.
-spec fixed_chunks(binary(), pos_integer()) -> [binary()].
fixed_chunks(Bin, Size) when byte_size(Bin) =< Size ->
    [Bin || Bin =/= <<>>];
fixed_chunks(Bin, Size) ->
    <<Chunk:Size/binary, Rest/binary>> = Bin,
    [Chunk | fixed_chunks(Rest, Size)].

%% @doc One chunk per packet, length prefix included.
-spec packet_chunks(binary()) -> [binary()].
packet_chunks(<<Len:32, _:Len/binary, _/binary>> = Bin) ->
    <<Chunk:(4 + Len)/binary, Rest/binary>> = Bin,
    [Chunk | packet_chunks(Rest)];
packet_chunks(<<>>) ->
    [].

%% @doc A channel opened as the corpus' receiver would open it.
-spec open(corpus()) -> erldist_filter_nif:channel().
open(Corpus) ->
    open(Corpus, 4).

-spec open(corpus(), 0 | 4) -> erldist_filter_nif:channel().
open(#{meta := Meta}, PacketSize) ->
    #{sender_node := Node, sender_creation := Creation, negotiated_flags := Flags} = Meta,
    erldist_filter_nif:channel_open(PacketSize, Node, Creation, 1, Flags).

%% @doc Feed every chunk (each one `channel_recv/2' call); the emitted
%% frames in order.
-spec replay(erldist_filter_nif:channel(), [binary() | [binary()]]) -> [binary()].
replay(Channel, Chunks) ->
    replay(Channel, Chunks, []).

replay(_Channel, [], Acc) ->
    lists:append(lists:reverse(Acc));
replay(Channel, [Chunk | Chunks], Acc) ->
    Actions = erldist_filter_nif:channel_recv(Channel, Chunk),
    true = is_list(Actions),
    replay(Channel, Chunks, [[Bin || {emit, Bin} <- Actions] | Acc]).

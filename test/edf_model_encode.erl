%% @doc Test oracle, sender side: encodes control messages (and payloads) into
%% distribution frames as a sending ERTS would (SPEC §4.3, OTP's "Distribution
%% Header" documentation): internal term encoding with ATOM_CACHE_REF for
%% cached atoms, a per-sender outgoing atom cache (2039 slots), new-entry /
%% old-ref header flags, long-atoms bit, and 'E'/'F' fragments counting down
%% with the whole control inside the first fragment.
%%
%% Slot choice is deterministic (`erlang:phash2(Atom, 2039)') unless forced
%% with `force_slot/3' (conflict tests). An atom whose slot is already used
%% by another atom of the same message is written inline, like ERTS does.
-module(edf_model_encode).

-export([new/1]).
-export([force_slot/3]).
-export([slot/2]).
-export([encode/3]).
-export([encode_all/3]).
-export([packets/2]).
-export([packet/2]).
-export([header/2]).

-define(CACHE_SLOTS, 2039).
-define(MAX_REFS, 255).
-define(DFLAG_UTF8_ATOMS, 16#10000).

-type msg() :: {Control :: tuple()} | {Control :: tuple(), Payload :: term()}.
-type mode() :: normal | {fragment, pos_integer()} | pass_through.
-type enc() :: #{dflags := non_neg_integer(),
                 cache := #{non_neg_integer() => atom()},
                 force := #{atom() => non_neg_integer()},
                 seq := non_neg_integer()}.
-export_type([msg/0, mode/0, enc/0]).

-spec new(non_neg_integer()) -> enc().
new(DFlags) ->
    #{dflags => DFlags, cache => #{}, force => #{}, seq => 16#1000}.

%% @doc Make `Atom' use cache slot `Slot' from now on.
-spec force_slot(enc(), atom(), 0..2038) -> enc().
force_slot(Enc = #{force := F}, Atom, Slot) when Slot >= 0, Slot < ?CACHE_SLOTS ->
    Enc#{force := F#{Atom => Slot}}.

-spec slot(enc(), atom()) -> non_neg_integer().
slot(#{force := F}, Atom) ->
    case F of
        #{Atom := S} -> S;
        _ -> erlang:phash2(Atom, ?CACHE_SLOTS)
    end.

%% @doc Encode a list of messages; returns all frames in order.
-spec encode_all(enc(), mode(), [msg()]) -> {[binary()], enc()}.
encode_all(Enc0, Mode, Msgs) ->
    {FramesL, Enc} = lists:mapfoldl(fun(M, E) -> encode(E, Mode, M) end, Enc0, Msgs),
    {lists:append(FramesL), Enc}.

%% @doc Encode one message into its frames (without packet length prefix).
-spec encode(enc(), mode(), msg()) -> {[binary()], enc()}.
encode(Enc, pass_through, Msg) ->
    Ctl = term_to_binary(element(1, Msg), [{minor_version, 2}]),
    Pay = case Msg of
              {_} -> <<>>;
              {_, P} -> term_to_binary(P, [{minor_version, 2}])
          end,
    {[<<$p, Ctl/binary, Pay/binary>>], Enc};
encode(Enc0 = #{cache := Cache0, seq := Seq0}, Mode, Msg) ->
    S0 = #{enc => Enc0, cache => Cache0, entries => [], index => #{}, used => #{}},
    {CtlIo, S1} = enc(element(1, Msg), S0),
    {PayIo, S2} = case Msg of
                      {_} -> {[], S1};
                      {_, P} -> enc(P, S1)
                  end,
    #{cache := Cache, entries := RevEntries} = S2,
    Header = header(lists:reverse(RevEntries), maps:get(dflags, Enc0)),
    Ctl = iolist_to_binary(CtlIo),
    Pay = iolist_to_binary(PayIo),
    Enc1 = Enc0#{cache := Cache, seq := Seq0 + 1},
    case Mode of
        normal ->
            {[<<131, $D, Header/binary, Ctl/binary, Pay/binary>>], Enc1};
        {fragment, Size} ->
            Chunks = chunks(Pay, Size),
            N = length(Chunks),
            [First | Rest] = Chunks,
            F1 = <<131, $E, Seq0:64, N:64, Header/binary, Ctl/binary, First/binary>>,
            Conts = [<<131, $F, Seq0:64, K:64, C/binary>>
                     || {K, C} <- lists:zip(lists:seq(N - 1, 1, -1), Rest)],
            {[F1 | Conts], Enc1}
    end.

chunks(<<>>, _) -> [<<>>];
chunks(Bin, Size) -> chunks_(Bin, Size).

chunks_(Bin, Size) when byte_size(Bin) =< Size -> [Bin];
chunks_(Bin, Size) ->
    <<C:Size/binary, R/binary>> = Bin,
    [C | chunks_(R, Size)].

%% @doc Length-prefix frames (`PacketSize' 1, 2, 4 or 8 bytes).
-spec packets([binary()], 1 | 2 | 4 | 8) -> [binary()].
packets(Frames, PS) -> [packet(F, PS) || F <- Frames].

-spec packet(binary(), 1 | 2 | 4 | 8) -> binary().
packet(F, PS) -> <<(byte_size(F)):(PS * 8), F/binary>>.

%%--------------------------------------------------------------------
%% Atom cache header
%%--------------------------------------------------------------------

%% @doc Encode an atom-cache header from `[{Atom, Slot, IsNew}]' in
%% internal-index order (the long-atoms flag is computed).
-spec header([{atom(), non_neg_integer(), boolean()}], non_neg_integer()) -> binary().
header([], _DFlags) ->
    <<0>>;
header(Entries, DFlags) ->
    Texts = [{Slot, New, text(A, DFlags)} || {A, Slot, New} <- Entries],
    Long = lists:any(fun({_, New, T}) -> New andalso byte_size(T) > 255 end, Texts),
    Nibbles = [(case New of true -> 8; false -> 0 end) bor (Slot bsr 8)
               || {Slot, New, _} <- Texts]
        ++ [case Long of true -> 1; false -> 0 end],
    Flags = nibbles(Nibbles),
    Refs = [case New of
                true when Long -> <<(Slot band 255), (byte_size(T)):16, T/binary>>;
                true -> <<(Slot band 255), (byte_size(T)), T/binary>>;
                false -> <<(Slot band 255)>>
            end || {Slot, New, T} <- Texts],
    iolist_to_binary([length(Entries), Flags, Refs]).

%% Two flag nibbles per byte, the even-numbered one in the low half.
nibbles([]) -> <<>>;
nibbles([Lo]) -> <<0:4, Lo:4>>;
nibbles([Lo, Hi | R]) -> <<Hi:4, Lo:4, (nibbles(R))/binary>>.

text(A, DFlags) when DFlags band ?DFLAG_UTF8_ATOMS =/= 0 -> atom_to_binary(A, utf8);
text(A, _) -> atom_to_binary(A, latin1).

%%--------------------------------------------------------------------
%% Internal term encoding
%%--------------------------------------------------------------------

enc(A, S) when is_atom(A) -> atom(A, S);
enc(T, S) when is_tuple(T) ->
    L = tuple_size(T),
    Hd = if L < 256 -> <<104, L>>; true -> <<105, L:32>> end,
    {Els, S1} = lists:mapfoldl(fun enc/2, S, tuple_to_list(T)),
    {[Hd | Els], S1};
enc([], S) -> {<<106>>, S};
enc(L, S) when is_list(L) ->
    case is_byte_string(L, 0) of
        true -> {leaf(L), S};
        false ->
            {Els, Tail} = split_list(L, []),
            {EIo, S1} = lists:mapfoldl(fun enc/2, S, Els),
            {TIo, S2} = enc(Tail, S1),
            {[<<108, (length(Els)):32>>, EIo, TIo], S2}
    end;
enc(M, S) when is_map(M) ->
    {KVs, S1} = lists:mapfoldl(fun({K, V}, Sx) ->
                                       {KI, Sy} = enc(K, Sx),
                                       {VI, Sz} = enc(V, Sy),
                                       {[KI, VI], Sz}
                               end, S, maps:to_list(M)),
    {[<<116, (map_size(M)):32>>, KVs], S1};
enc(P, S) when is_pid(P) ->
    <<88, Rest/binary>> = leaf(P),
    {Node, Tail} = leaf_atom(Rest),
    {NI, S1} = atom(Node, S),
    {[88, NI, Tail], S1};
enc(R, S) when is_reference(R) ->
    case leaf(R) of
        <<90, N:16, Rest/binary>> ->
            {Node, Tail} = leaf_atom(Rest),
            {NI, S1} = atom(Node, S),
            {[<<90, N:16>>, NI, Tail], S1};
        Other ->
            {Other, S}
    end;
enc(T, S) ->
    {leaf(T), S}.

leaf(T) ->
    <<131, B/binary>> = term_to_binary(T, [{minor_version, 2}]),
    B.

leaf_atom(<<119, L, T:L/binary, R/binary>>) -> {binary_to_atom(T, utf8), R};
leaf_atom(<<118, L:16, T:L/binary, R/binary>>) -> {binary_to_atom(T, utf8), R};
leaf_atom(<<115, L, T:L/binary, R/binary>>) -> {binary_to_atom(T, latin1), R};
leaf_atom(<<100, L:16, T:L/binary, R/binary>>) -> {binary_to_atom(T, latin1), R}.

is_byte_string([], N) -> N > 0 andalso N < 65536;
is_byte_string([H | T], N) when is_integer(H), H >= 0, H =< 255 -> is_byte_string(T, N + 1);
is_byte_string(_, _) -> false.

split_list([H | T], Acc) -> split_list(T, [H | Acc]);
split_list(Tail, Acc) -> {lists:reverse(Acc), Tail}.

%% An atom goes through the cache when possible.
atom(A, S = #{index := Index}) when is_map_key(A, Index) ->
    {<<82, (maps:get(A, Index))>>, S};
atom(A, S = #{enc := Enc, cache := Cache, entries := Es, index := Index, used := Used}) ->
    Slot = slot(Enc, A),
    N = map_size(Index),
    case N < ?MAX_REFS andalso not is_map_key(Slot, Used) of
        true ->
            New = maps:get(Slot, Cache, undefined) =/= A,
            {<<82, N>>, S#{cache := Cache#{Slot => A},
                           entries := [{A, Slot, New} | Es],
                           index := Index#{A => N},
                           used := Used#{Slot => A}}};
        false ->
            {edf_model_term:atom_inline(A), S}
    end.

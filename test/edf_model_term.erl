%% @doc Test oracle: byte-level helpers for the external term format, written
%% from SPEC §4.6 / Appendix A and OTP's documented wire format.
%%
%% `skip/1' measures one encoded term (internal encoding: ATOM_CACHE_REF
%% allowed) and returns the rest; `tuple_elements/1' splits an encoded tuple
%% into the byte slices of its elements. The rest builds the fixed byte
%% layouts used by rewrites (no-op controls, dummy pid, inline atoms, sort).
-module(edf_model_term).

-export([skip/1]).
-export([split/1]).
-export([tuple_elements/1]).
-export([atom_inline/1]).
-export([atom_utf8_ext/1]).
-export([noop_small/0]).
-export([noop_utf8/0]).
-export([dummy_pid_small/0]).
-export([sort_int/1]).
-export([small_int/1]).

%% @doc Split `Bin' into the first encoded term and the rest.
-spec split(binary()) -> {binary(), binary()}.
split(Bin) ->
    Rest = skip(Bin),
    Len = byte_size(Bin) - byte_size(Rest),
    <<Term:Len/binary, Rest/binary>> = Bin,
    {Term, Rest}.

%% @doc Skip one encoded term; crashes on malformed input.
-spec skip(binary()) -> binary().
skip(<<70, _:8/binary, R/binary>>) -> R;                          % NEW_FLOAT
skip(<<77, L:32, _Bits, _:L/binary, R/binary>>) -> R;             % BIT_BINARY
skip(<<82, _Ix, R/binary>>) -> R;                                 % ATOM_CACHE_REF
skip(<<88, R0/binary>>) -> <<_:12/binary, R/binary>> = skip(R0), R; % NEW_PID
skip(<<89, R0/binary>>) -> <<_:8/binary, R/binary>> = skip(R0), R;  % NEW_PORT
skip(<<90, N:16, R0/binary>>) ->                                  % NEWER_REFERENCE
    W = 4 + 4 * N,
    <<_:W/binary, R/binary>> = skip(R0),
    R;
skip(<<97, _, R/binary>>) -> R;                                   % SMALL_INTEGER
skip(<<98, _:32, R/binary>>) -> R;                                % INTEGER
skip(<<99, _:31/binary, R/binary>>) -> R;                         % FLOAT
skip(<<100, L:16, _:L/binary, R/binary>>) -> R;                   % ATOM
skip(<<101, R0/binary>>) -> <<_:5/binary, R/binary>> = skip(R0), R; % REFERENCE
skip(<<102, R0/binary>>) -> <<_:5/binary, R/binary>> = skip(R0), R; % PORT
skip(<<103, R0/binary>>) -> <<_:9/binary, R/binary>> = skip(R0), R; % PID
skip(<<104, A, R/binary>>) -> skip_n(A, R);                       % SMALL_TUPLE
skip(<<105, A:32, R/binary>>) -> skip_n(A, R);                    % LARGE_TUPLE
skip(<<106, R/binary>>) -> R;                                     % NIL
skip(<<107, L:16, _:L/binary, R/binary>>) -> R;                   % STRING
skip(<<108, L:32, R/binary>>) -> skip_n(L + 1, R);                % LIST
skip(<<109, L:32, _:L/binary, R/binary>>) -> R;                   % BINARY
skip(<<110, N, _S, _:N/binary, R/binary>>) -> R;                  % SMALL_BIG
skip(<<111, N:32, _S, _:N/binary, R/binary>>) -> R;               % LARGE_BIG
skip(<<112, Size:32, R0/binary>>) ->                              % NEW_FUN
    L = Size - 4,
    <<_:L/binary, R/binary>> = R0,
    R;
skip(<<113, R/binary>>) -> skip_n(3, R);                          % EXPORT
skip(<<114, N:16, R0/binary>>) ->                                 % NEW_REFERENCE
    W = 1 + 4 * N,
    <<_:W/binary, R/binary>> = skip(R0),
    R;
skip(<<115, L, _:L/binary, R/binary>>) -> R;                      % SMALL_ATOM
skip(<<116, A:32, R/binary>>) -> skip_n(2 * A, R);                % MAP
skip(<<118, L:16, _:L/binary, R/binary>>) -> R;                   % ATOM_UTF8
skip(<<119, L, _:L/binary, R/binary>>) -> R;                      % SMALL_ATOM_UTF8
skip(<<120, R0/binary>>) -> <<_:12/binary, R/binary>> = skip(R0), R; % V4_PORT
skip(Bin) -> erlang:error({bad_term, binary:part(Bin, 0, min(8, byte_size(Bin)))}).

skip_n(0, R) -> R;
skip_n(N, R) -> skip_n(N - 1, skip(R)).

%% @doc The byte slices of the elements of an encoded tuple (the tuple must
%% be the whole of `Bin').
-spec tuple_elements(binary()) -> [binary()].
tuple_elements(<<104, A, R/binary>>) -> elements(A, R, []);
tuple_elements(<<105, A:32, R/binary>>) -> elements(A, R, []).

elements(0, <<>>, Acc) -> lists:reverse(Acc);
elements(N, R, Acc) ->
    {E, R1} = split(R),
    elements(N - 1, R1, [E | Acc]).

%% @doc An atom written inline: SMALL_ATOM_UTF8_EXT, or ATOM_UTF8_EXT when
%% its UTF-8 text is longer than 255 bytes.
-spec atom_inline(atom()) -> binary().
atom_inline(A) ->
    T = atom_to_binary(A, utf8),
    case byte_size(T) of
        L when L =< 255 -> <<119, L, T/binary>>;
        L -> <<118, L:16, T/binary>>
    end.

-spec atom_utf8_ext(atom()) -> binary().
atom_utf8_ext(A) ->
    T = atom_to_binary(A, utf8),
    <<118, (byte_size(T)):16, T/binary>>.

%% @doc NEW_PID_EXT with node '' (SMALL_ATOM_UTF8_EXT) and zero id, serial,
%% creation.
-spec dummy_pid_small() -> binary().
dummy_pid_small() ->
    <<88, 119, 0, 0:32, 0:32, 0:32>>.

%% @doc The drop rewrite: control `{6, Pid, '', undefined}' with
%% SMALL_ATOM_UTF8_EXT atoms, then payload `[]' (internal encoding).
-spec noop_small() -> binary().
noop_small() ->
    <<104, 4, 97, 6, (dummy_pid_small())/binary, 119, 0, 119, 9, "undefined", 106>>.

%% @doc The commit / rollback no-op: same term with ATOM_UTF8_EXT atoms (36
%% bytes of control and payload).
-spec noop_utf8() -> binary().
noop_utf8() ->
    <<104, 4, 97, 6, 88, 118, 0:16, 0:32, 0:32, 0:32, 118, 0:16, 118, 9:16, "undefined", 106>>.

%% @doc The redirect sort counter: SMALL_INTEGER_EXT, INTEGER_EXT, or an
%% 8-byte SMALL_BIG_EXT (little-endian digits).
-spec sort_int(non_neg_integer()) -> binary().
sort_int(N) when N < 256 -> <<97, N>>;
sort_int(N) when N =< 16#7FFFFFFF -> <<98, N:32>>;
sort_int(N) -> <<110, 8, 0, N:64/little>>.

-spec small_int(0..255) -> binary().
small_int(N) -> <<97, N>>.

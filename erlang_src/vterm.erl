%% @doc vterms: terms as records per external-format tag
%% (`include/erldist_filter.hrl'), as `erldist_filter_nif:dist_*_to_vterm'
%% return them.
%%
%% <ul>
%% <li>`simplify/1,2': vterm to term. Pids, ports, references and funs are
%%     rebuilt with `binary_to_term/1' from their fields (the only way to
%%     make a remote pid or a closure); lazy terms are decoded with the NIF
%%     (`simplify/2' takes the atoms tuple their cache references need).
%%     Native records (`vterm_record_ext', OTP 29) raise `notsup'.</li>
%% <li>`expand/1': term to the vterm that OTP 25's `term_to_binary/1'
%%     writes for it (`ATOM_EXT' for Latin-1 atoms, `STRING_EXT' for short
%%     byte lists, `NEW_FLOAT_EXT', `NEW_PID_EXT', ...).</li>
%% </ul>
-module(vterm).

-include("erldist_filter.hrl").

-export([simplify/1]).
-export([simplify/2]).
-export([expand/1]).
-export([is_lazy/1]).

-type t() :: tuple().
-export_type([t/0]).

%% Pseudo-record types: the vterms that may stand for an atom, a pid or a
%% reference (inside pids, ports, funs and control messages).
-type vterm_atom() :: #vterm_atom_ext{} | #vterm_small_atom_ext{} | #vterm_atom_utf8_ext{}
                    | #vterm_small_atom_utf8_ext{} | #vterm_atom_cache_ref{}
                    | #vterm_atom_cache_ref_resolved{}.
-type vterm_pid() :: #vterm_pid_ext{} | #vterm_new_pid_ext{}.
-type vterm_reference() :: #vterm_reference_ext{} | #vterm_new_reference_ext{} | #vterm_newer_reference_ext{}.
-export_type([vterm_atom/0, vterm_pid/0, vterm_reference/0]).

-spec simplify(t()) -> term().
%% @doc `simplify({}, VTerm)'.
simplify(VTerm) ->
    simplify({}, VTerm).

-spec simplify(tuple(), t()) -> term().
%% @doc The term a vterm stands for. `Atoms' resolves unresolved
%% `vterm_atom_cache_ref's and the cache references inside lazy slices.
simplify(_, #vterm_small_integer_ext{value = V}) -> V;
simplify(_, #vterm_integer_ext{value = V}) -> V;
simplify(_, #vterm_small_big_ext{sign = S, digits = D}) -> big(S, D);
simplify(_, #vterm_large_big_ext{sign = S, digits = D}) -> big(S, D);
simplify(_, #vterm_float_ext{value = V}) -> V;
simplify(_, #vterm_new_float_ext{value = V}) -> V;
simplify(_, #vterm_atom_ext{name = A}) -> A;
simplify(_, #vterm_small_atom_ext{name = A}) -> A;
simplify(_, #vterm_atom_utf8_ext{name = A}) -> A;
simplify(_, #vterm_small_atom_utf8_ext{name = A}) -> A;
simplify(Atoms, #vterm_atom_cache_ref{index = I}) when I < tuple_size(Atoms) -> element(I + 1, Atoms);
simplify(_, #vterm_atom_cache_ref{} = VT) -> erlang:error({unresolved, VT});
simplify(_, #vterm_atom_cache_ref_resolved{term = A}) -> A;
simplify(Atoms, #vterm_pid_ext{node = N, id = I, serial = S, creation = C}) ->
    ext(<<103, (atom_ext(simplify(Atoms, N)))/binary, I:32, S:32, C:8>>);
simplify(Atoms, #vterm_new_pid_ext{node = N, id = I, serial = S, creation = C}) ->
    ext(<<88, (atom_ext(simplify(Atoms, N)))/binary, I:32, S:32, C:32>>);
simplify(Atoms, #vterm_port_ext{node = N, id = I, creation = C}) ->
    ext(<<102, (atom_ext(simplify(Atoms, N)))/binary, I:32, C:8>>);
simplify(Atoms, #vterm_new_port_ext{node = N, id = I, creation = C}) ->
    ext(<<89, (atom_ext(simplify(Atoms, N)))/binary, I:32, C:32>>);
simplify(Atoms, #vterm_v4_port_ext{node = N, id = I, creation = C}) ->
    ext(<<120, (atom_ext(simplify(Atoms, N)))/binary, I:64, C:32>>);
simplify(Atoms, #vterm_reference_ext{node = N, id = I, creation = C}) ->
    ext(<<101, (atom_ext(simplify(Atoms, N)))/binary, I:32, C:8>>);
simplify(Atoms, #vterm_new_reference_ext{node = N, creation = C, ids = Ids}) ->
    ext(<<114, (length(Ids)):16, (atom_ext(simplify(Atoms, N)))/binary, C:8, (ids(Ids))/binary>>);
simplify(Atoms, #vterm_newer_reference_ext{node = N, creation = C, ids = Ids}) ->
    ext(<<90, (length(Ids)):16, (atom_ext(simplify(Atoms, N)))/binary, C:32, (ids(Ids))/binary>>);
simplify(Atoms, #vterm_small_tuple_ext{elements = Es}) -> list_to_tuple([simplify(Atoms, E) || E <- Es]);
simplify(Atoms, #vterm_large_tuple_ext{elements = Es}) -> list_to_tuple([simplify(Atoms, E) || E <- Es]);
simplify(_, #vterm_nil_ext{}) -> [];
simplify(_, #vterm_string_ext{characters = Cs}) -> binary_to_list(Cs);
simplify(Atoms, #vterm_list_ext{elements = Es, tail = T}) ->
    lists:foldr(fun(E, Acc) -> [simplify(Atoms, E) | Acc] end, simplify(Atoms, T), Es);
simplify(Atoms, #vterm_map_ext{pairs = Ps}) ->
    maps:from_list([{simplify(Atoms, K), simplify(Atoms, V)} || {K, V} <- Ps]);
simplify(_, #vterm_binary_ext{data = D}) -> D;
simplify(_, #vterm_bit_binary_ext{len = 0}) -> <<>>;
simplify(_, #vterm_bit_binary_ext{len = L, bits = B, data = D}) ->
    HL = L - 1,
    <<H:HL/binary, Last:8>> = D,
    <<H/binary, (Last bsr (8 - B)):B>>;
simplify(Atoms, #vterm_new_fun_ext{arity = Ar, uniq = U, index = I, module = M, old_index = OI,
                                   old_uniq = OU, pid = P, free_vars = Fs}) ->
    Body = iolist_to_binary([<<Ar:8, U:16/binary, I:32, (length(Fs)):32>>,
                             atom_ext(simplify(Atoms, M)),
                             int_ext(simplify(Atoms, OI)), int_ext(simplify(Atoms, OU)),
                             inner_ext(simplify(Atoms, P)),
                             [inner_ext(simplify(Atoms, F)) || F <- Fs]]),
    ext(<<112, (byte_size(Body) + 4):32, Body/binary>>);
simplify(Atoms, #vterm_export_ext{module = M, function = F, arity = A}) ->
    erlang:make_fun(simplify(Atoms, M), simplify(Atoms, F), simplify(Atoms, A));
simplify(_, #vterm_record_ext{}) -> erlang:error(notsup);
simplify(Atoms, #vterm_lazy_term{slice = S}) ->
    simplify(Atoms, erldist_filter_nif:dist_int_to_vterm(Atoms, S));
simplify(_, #vterm_nif_term{term = T}) -> T;
simplify(_, VT) -> erlang:error({badvterm, VT}).

-spec is_lazy(t()) -> boolean().
%% @doc Whether the vterm is an undecoded slice.
is_lazy(#vterm_lazy_term{}) -> true;
is_lazy(_) -> false.

-spec expand(term()) -> t().
%% @doc The vterm of `Term' as OTP 25's `term_to_binary/1' encodes it.
expand(I) when is_integer(I), I >= 0, I =< 255 -> #vterm_small_integer_ext{value = I};
expand(I) when is_integer(I), I >= -16#80000000, I =< 16#7fffffff -> #vterm_integer_ext{value = I};
expand(I) when is_integer(I) ->
    D = binary:encode_unsigned(abs(I), little),
    S = if I < 0 -> 1; true -> 0 end,
    case byte_size(D) of
        N when N =< 255 -> #vterm_small_big_ext{n = N, sign = S, digits = D};
        N -> #vterm_large_big_ext{n = N, sign = S, digits = D}
    end;
expand(F) when is_float(F) -> #vterm_new_float_ext{value = F};
expand(A) when is_atom(A) -> expand_atom(A);
expand(B) when is_binary(B) -> #vterm_binary_ext{len = byte_size(B), data = B};
expand(B) when is_bitstring(B) ->
    Bits = bit_size(B) rem 8,
    Pad = 8 - Bits,
    #vterm_bit_binary_ext{len = byte_size(B), bits = Bits, data = <<B/bitstring, 0:Pad>>};
expand(T) when is_tuple(T), tuple_size(T) =< 255 ->
    #vterm_small_tuple_ext{arity = tuple_size(T), elements = [expand(E) || E <- tuple_to_list(T)]};
expand(T) when is_tuple(T) ->
    #vterm_large_tuple_ext{arity = tuple_size(T), elements = [expand(E) || E <- tuple_to_list(T)]};
expand([]) -> #vterm_nil_ext{};
expand(L) when is_list(L) ->
    case is_byte_string(L, 0) of
        true ->
            #vterm_string_ext{len = length(L), characters = list_to_binary(L)};
        false ->
            {Es, Tail} = split_list(L, []),
            #vterm_list_ext{len = length(Es), elements = [expand(E) || E <- Es], tail = expand(Tail)}
    end;
expand(M) when is_map(M) ->
    #vterm_map_ext{arity = map_size(M), pairs = [{expand(K), expand(V)} || {K, V} <- encoded_pairs(M)]};
expand(F) when is_function(F) ->
    case erlang:fun_info(F, type) of
        {type, external} ->
            {module, M} = erlang:fun_info(F, module),
            {name, N} = erlang:fun_info(F, name),
            {arity, A} = erlang:fun_info(F, arity),
            #vterm_export_ext{module = expand_atom(M), function = expand_atom(N), arity = expand(A)};
        {type, local} ->
            <<131, 112, Size:32, Ar:8, U:16/binary, I:32, NF:32, Rest0/binary>> = term_to_binary(F),
            {M, Rest1} = flat(Rest0),
            {OI, Rest2} = flat(Rest1),
            {OU, Rest3} = flat(Rest2),
            {P, _} = flat(Rest3),
            {env, Env} = erlang:fun_info(F, env),
            #vterm_new_fun_ext{size = Size, arity = Ar, uniq = U, index = I, num_free = NF,
                               module = M, old_index = OI, old_uniq = OU, pid = P,
                               free_vars = [expand(V) || V <- Env]}
    end;
expand(T) when is_pid(T); is_port(T); is_reference(T) ->
    <<131, Ext/binary>> = term_to_binary(T),
    {VT, <<>>} = flat(Ext),
    VT.

%%--------------------------------------------------------------------
%% Internal

expand_atom(A) ->
    <<131, Ext/binary>> = term_to_binary(A),
    {VT, <<>>} = flat(Ext),
    VT.

is_byte_string([C | T], N) when is_integer(C), C >= 0, C =< 255, N < 65535 -> is_byte_string(T, N + 1);
is_byte_string([], _) -> true;
is_byte_string(_, _) -> false.

split_list([H | T], Acc) -> split_list(T, [H | Acc]);
split_list(Tail, Acc) -> {lists:reverse(Acc), Tail}.

big(0, D) -> binary:decode_unsigned(D, little);
big(_, D) -> -binary:decode_unsigned(D, little).

ext(Bin) -> binary_to_term(<<131, Bin/binary>>).

inner_ext(T) ->
    <<131, Ext/binary>> = term_to_binary(T, [{minor_version, 2}]),
    Ext.

atom_ext(A) when is_atom(A) -> inner_ext(A).

int_ext(I) when I >= 0, I =< 255 -> <<97, I:8>>;
int_ext(I) -> <<98, I:32/signed>>.

ids(Ids) -> << <<I:32>> || I <- Ids >>.

%% A flat term (atom, small integer, pid, port, reference) in external
%% format, as its vterm, and the bytes after it.
flat(<<100, L:16, Name:L/binary, R/binary>>) ->
    {#vterm_atom_ext{len = L, name = binary_to_atom(Name, latin1)}, R};
flat(<<115, L:8, Name:L/binary, R/binary>>) ->
    {#vterm_small_atom_ext{len = L, name = binary_to_atom(Name, latin1)}, R};
flat(<<118, L:16, Name:L/binary, R/binary>>) ->
    {#vterm_atom_utf8_ext{len = L, name = binary_to_atom(Name, utf8)}, R};
flat(<<119, L:8, Name:L/binary, R/binary>>) ->
    {#vterm_small_atom_utf8_ext{len = L, name = binary_to_atom(Name, utf8)}, R};
flat(<<97, I:8, R/binary>>) ->
    {#vterm_small_integer_ext{value = I}, R};
flat(<<98, I:32/signed, R/binary>>) ->
    {#vterm_integer_ext{value = I}, R};
flat(<<103, R0/binary>>) ->
    {N, <<I:32, S:32, C:8, R/binary>>} = flat(R0),
    {#vterm_pid_ext{node = N, id = I, serial = S, creation = C}, R};
flat(<<88, R0/binary>>) ->
    {N, <<I:32, S:32, C:32, R/binary>>} = flat(R0),
    {#vterm_new_pid_ext{node = N, id = I, serial = S, creation = C}, R};
flat(<<102, R0/binary>>) ->
    {N, <<I:32, C:8, R/binary>>} = flat(R0),
    {#vterm_port_ext{node = N, id = I, creation = C}, R};
flat(<<89, R0/binary>>) ->
    {N, <<I:32, C:32, R/binary>>} = flat(R0),
    {#vterm_new_port_ext{node = N, id = I, creation = C}, R};
flat(<<120, R0/binary>>) ->
    {N, <<I:64, C:32, R/binary>>} = flat(R0),
    {#vterm_v4_port_ext{node = N, id = I, creation = C}, R};
flat(<<101, R0/binary>>) ->
    {N, <<I:32, C:8, R/binary>>} = flat(R0),
    {#vterm_reference_ext{node = N, id = I, creation = C}, R};
flat(<<114, L:16, R0/binary>>) ->
    {N, <<C:8, Ids:(4 * L)/binary, R/binary>>} = flat(R0),
    {#vterm_new_reference_ext{len = L, node = N, creation = C, ids = [I || <<I:32>> <= Ids]}, R};
flat(<<90, L:16, R0/binary>>) ->
    {N, <<C:32, Ids:(4 * L)/binary, R/binary>>} = flat(R0),
    {#vterm_newer_reference_ext{len = L, node = N, creation = C, ids = [I || <<I:32>> <= Ids]}, R}.

%% A map's pairs in the order `term_to_binary/1' writes them, which is not
%% `maps:to_list/1''s for every map on every OTP (large maps differ on 29):
%% read back from its own encoding, one term at a time.
encoded_pairs(M) ->
    <<131, 116, _Arity:32, Pairs/binary>> = term_to_binary(M),
    read_pairs(Pairs, map_size(M)).

read_pairs(<<>>, 0) ->
    [];
read_pairs(Bin, N) ->
    {K, UsedK} = binary_to_term(<<131, Bin/binary>>, [used]),
    <<_:(UsedK - 1)/binary, AfterK/binary>> = Bin,
    {V, UsedV} = binary_to_term(<<131, AfterK/binary>>, [used]),
    <<_:(UsedV - 1)/binary, Rest/binary>> = AfterK,
    [{K, V} | read_pairs(Rest, N - 1)].

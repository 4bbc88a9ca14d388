%% @doc The decoding helpers (SPEC §2.4): `dist_ext_to_term/2' against
%% `erts_debug:dist_ext_to_term/2', the vterm decoders against it through
%% `vterm:simplify/2', lazy limits against a model, every control message
%% through `dist_*_to_vdist/2' against `udist', argument and format errors,
%% and a 10 MB input that must not hold a normal scheduler.
%%
%% Inputs come from PropEr generators (atoms Latin-1 and UTF-8 up to 255
%% characters, integers of every size, floats, binaries, bitstrings,
%% tuples small and large, proper and improper lists, maps, local and
%% remote pids, ports and references, closures and export funs), encoded
%% by `term_to_binary/1' and by this suite's own encoder, which writes a
%% seed-chosen subset of the atoms (node names and fun modules included)
%% as `ATOM_CACHE_REF's into an atoms tuple.
%%
%% Run: `rebar3 ct --suite test/erldist_filter_decode_SUITE'.
-module(erldist_filter_decode_SUITE).

-include_lib("proper/include/proper.hrl").
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
-include("erldist_filter.hrl").

-export([all/0]).
-export([init_per_suite/1]).
-export([end_per_suite/1]).

-export([ext_to_term_fixed/1]).
-export([prop_ext_to_term/1]).
-export([prop_ext_to_term_malformed/1]).
-export([prop_vterm_simplify/1]).
-export([prop_vterm_expand/1]).
-export([vterm_fixed/1]).
-export([prop_lazy_limits/1]).
-export([lazy_fixed/1]).
-export([vdist_every_dop/1]).
-export([vdist_errors/1]).
-export([argument_errors/1]).
-export([format_errors/1]).
-export([large_input_not_blocking/1]).

-define(NIF, erldist_filter_nif).
-define(NUMTESTS, 500).

all() ->
    [ext_to_term_fixed, prop_ext_to_term, prop_ext_to_term_malformed,
     prop_vterm_simplify, prop_vterm_expand, vterm_fixed, prop_lazy_limits, lazy_fixed,
     vdist_every_dop, vdist_errors, argument_errors, format_errors,
     large_input_not_blocking].

init_per_suite(Config) ->
    {module, ?NIF} = code:ensure_loaded(?NIF),
    %% A port that stays open for the whole suite (generators use it).
    Port = open_port({spawn_executable, "/bin/cat"}, []),
    persistent_term:put({?MODULE, port}, Port),
    [{port, Port} | Config].

end_per_suite(Config) ->
    try port_close(?config(port, Config))
    catch error:badarg -> ok
    end,
    persistent_term:erase({?MODULE, port}),
    ok.

%%--------------------------------------------------------------------
%% dist_ext_to_term/2

ext_to_term_fixed(_Config) ->
    Atoms = {foo, 'bär', '日本', list_to_atom(lists:duplicate(255, $x))},
    Cases = [<<131, 104, 2, 82, 0, 82, 1>>,
             <<131, 82, 2>>,
             <<131, 82, 3>>,
             %% A pid whose node is a cache reference.
             <<131, 88, 82, 2, 0:32, 1:32, 7:32>>,
             %% A fun of this module with free variables, some cache refs.
             cache_encode(fun() -> {foo, 'bär'} end, #{foo => 0, 'bär' => 1, ?MODULE => 2}, 0),
             <<131, 113, 82, 0, 82, 1, 97, 2>>],
    lists:foreach(
      fun(Bin0) ->
              Bin = ext(Bin0),
              Expected = erts_debug:dist_ext_to_term(Atoms, Bin),
              ?assertEqual(Expected, ?NIF:dist_ext_to_term(Atoms, Bin), Bin),
              ?assertEqual(Expected, vterm:simplify(Atoms, ?NIF:dist_ext_to_vterm(Atoms, Bin)))
      end, Cases),
    %% Bytes after the term are ignored, as erts_debug does.
    ?assertEqual(foo, ?NIF:dist_ext_to_term({foo}, <<131, 82, 0, 1, 2, 3>>)),
    %% Compressed terms decode.
    Compressed = term_to_binary(lists:seq(1, 100), [compressed]),
    ?assertEqual(lists:seq(1, 100), ?NIF:dist_ext_to_term({}, Compressed)).

prop_ext_to_term(_Config) ->
    Prop = ?FORALL({T, Seed}, {term_g(), integer()},
               begin
                   Plain = term_to_binary(T),
                   {Atoms, Bin} = cache_encode(T, Seed),
                   R1 = outcome(fun() -> ?NIF:dist_ext_to_term({}, Plain) end),
                   R2 = outcome(fun() -> ?NIF:dist_ext_to_term(Atoms, Bin) end),
                   E2 = outcome(fun() -> erts_debug:dist_ext_to_term(Atoms, Bin) end),
                   ?WHENFAIL(ct:pal("T = ~p~nAtoms = ~p~nBin = ~p~nplain: ~p~ncache: ~p~nerts: ~p",
                                    [T, Atoms, Bin, R1, R2, E2]),
                             R1 =:= {ok, T} andalso R2 =:= E2 andalso element(1, E2) =:= ok)
               end),
    check(Prop).

%% Truncated and corrupted inputs: ours and erts_debug's agree on the
%% outcome (the same term, or both raise badarg).
prop_ext_to_term_malformed(_Config) ->
    Prop = ?FORALL({T, Seed, Mutation}, {term_g(), integer(), mutation_g()},
               begin
                   {Atoms, Bin0} = cache_encode(T, Seed),
                   Bin = mutate(Mutation, Bin0),
                   Ours = outcome(fun() -> ?NIF:dist_ext_to_term(Atoms, Bin) end),
                   Erts = outcome(fun() -> erts_debug:dist_ext_to_term(Atoms, Bin) end),
                   %% Ours may only be stricter where the core checks what
                   %% ERTS does not: a NEW_FUN_EXT's size field (so only
                   %% for terms with funs).
                   Class = case {Ours, Erts} of
                               {Same, Same} -> same;
                               {badarg, {ok, _}} -> case has_fun(T) of
                                                       true -> stricter_fun_size;
                                                       false -> differ
                                                   end;
                               _ -> differ
                           end,
                   ?WHENFAIL(ct:pal("Atoms = ~p~nBin = ~p~nours: ~p~nerts: ~p", [Atoms, Bin, Ours, Erts]),
                             collect({Class, case Erts of {ok, _} -> decoded; _ -> Erts end}, Class =/= differ))
               end),
    check(Prop).

has_fun(T) when is_function(T) -> true;
has_fun(T) when is_tuple(T) -> has_fun(tuple_to_list(T));
has_fun([H | T]) -> has_fun(H) orelse has_fun(T);
has_fun(M) when is_map(M) -> has_fun(maps:to_list(M));
has_fun(_) -> false.

%%--------------------------------------------------------------------
%% vterm

prop_vterm_simplify(_Config) ->
    Prop = ?FORALL({T, Seed}, {term_g(), integer()},
               begin
                   {Atoms, Bin} = cache_encode(T, Seed),
                   <<131, Int/binary>> = Bin,
                   Expected = erts_debug:dist_ext_to_term(Atoms, Bin),
                   VT = ?NIF:dist_ext_to_vterm(Atoms, Bin),
                   VTInt = ?NIF:dist_int_to_vterm(Atoms, Int),
                   VTPlain = ?NIF:dist_ext_to_vterm({}, term_to_binary(T)),
                   ?WHENFAIL(ct:pal("T = ~p~nVT = ~p", [T, VT]),
                             vterm:simplify(Atoms, VT) =:= Expected
                             andalso VTInt =:= VT
                             andalso vterm:simplify(VTPlain) =:= T
                             andalso no_unresolved_refs(VT))
               end),
    check(Prop).

%% `vterm:expand/1' is the vterm OTP 25's term_to_binary writes.
prop_vterm_expand(_Config) ->
    Prop = ?FORALL(T, term_g(),
               begin
                   Expanded = vterm:expand(T),
                   Decoded = ?NIF:dist_ext_to_vterm({}, term_to_binary(T)),
                   ?WHENFAIL(ct:pal("T = ~p~nexpand: ~p~nNIF: ~p", [T, Expanded, Decoded]),
                             Expanded =:= Decoded andalso vterm:simplify(Expanded) =:= T)
               end),
    check(Prop).

vterm_fixed(_Config) ->
    Pid = self(),
    Bin = latin1_atoms({1, 300, 1 bsl 40, -(1 bsl 3000), 1.5, "ab", [a | b], <<1, 2>>, <<5:3>>, #{}}),
    ?assertMatch(#vterm_small_tuple_ext{
                    arity = 10,
                    elements = [#vterm_small_integer_ext{value = 1},
                                #vterm_integer_ext{value = 300},
                                #vterm_small_big_ext{n = 6, sign = 0, digits = <<0, 0, 0, 0, 0, 1>>},
                                #vterm_large_big_ext{n = 376, sign = 1},
                                #vterm_new_float_ext{value = 1.5},
                                #vterm_string_ext{len = 2, characters = <<"ab">>},
                                #vterm_list_ext{len = 1, elements = [#vterm_atom_ext{len = 1, name = a}],
                                                tail = #vterm_atom_ext{name = b}},
                                #vterm_binary_ext{len = 2, data = <<1, 2>>},
                                #vterm_bit_binary_ext{len = 1, bits = 3, data = <<160>>},
                                #vterm_map_ext{arity = 0, pairs = []}]},
                 ?NIF:dist_ext_to_vterm({}, Bin)),
    %% The default encoding from OTP 26 on: UTF-8 atoms.
    ?assertMatch(#vterm_list_ext{elements = [#vterm_small_atom_utf8_ext{len = 1, name = a}],
                                 tail = #vterm_small_atom_utf8_ext{len = 2, name = 'ü'}},
                 ?NIF:dist_ext_to_vterm({}, term_to_binary([a | 'ü'], [{minor_version, 2}]))),
    %% Old encodings the VM no longer writes: PID_EXT, PORT_EXT,
    %% REFERENCE_EXT, NEW_REFERENCE_EXT, FLOAT_EXT, SMALL_ATOM_EXT.
    Node = <<115, 5, "a@b.c">>,
    Old = <<131, 104, 6,
            103, Node/binary, 1:32, 2:32, 3,
            102, Node/binary, 4:32, 1,
            101, Node/binary, 5:32, 2,
            114, 2:16, Node/binary, 3, 6:32, 7:32,
            99, "1.50000000000000000000e+00", 0, 0, 0, 0, 0,
            82, 0>>,
    VT = ?NIF:dist_ext_to_vterm({'a@b.c'}, Old),
    ?assertMatch(#vterm_small_tuple_ext{
                    elements = [#vterm_pid_ext{node = #vterm_small_atom_ext{len = 5, name = 'a@b.c'},
                                               id = 1, serial = 2, creation = 3},
                                #vterm_port_ext{id = 4, creation = 1},
                                #vterm_reference_ext{id = 5, creation = 2},
                                #vterm_new_reference_ext{len = 2, creation = 3, ids = [6, 7]},
                                #vterm_float_ext{value = 1.5},
                                #vterm_atom_cache_ref_resolved{index = 0, term = 'a@b.c'}]},
                 VT),
    ?assertEqual(erts_debug:dist_ext_to_term({'a@b.c'}, Old), vterm:simplify(VT)),
    %% Every field of a local pid and a fun.
    ?assertMatch(#vterm_new_pid_ext{node = #vterm_atom_ext{name = nonode@nohost}},
                 ?NIF:dist_ext_to_vterm({}, latin1_atoms(Pid))),
    F = fun() -> Pid end,
    ?assertMatch(#vterm_new_fun_ext{arity = 0, num_free = 1, module = #vterm_atom_ext{name = ?MODULE},
                                    pid = #vterm_new_pid_ext{}, free_vars = [#vterm_new_pid_ext{}]},
                 ?NIF:dist_ext_to_vterm({}, latin1_atoms(F))),
    ?assertEqual(F, vterm:simplify(?NIF:dist_ext_to_vterm({}, term_to_binary(F)))),
    ?assertMatch(#vterm_export_ext{module = #vterm_atom_ext{name = lists},
                                   function = #vterm_atom_ext{name = map},
                                   arity = #vterm_small_integer_ext{value = 2}},
                 ?NIF:dist_ext_to_vterm({}, latin1_atoms(fun lists:map/2))),
    %% A 300-element tuple mixing cache refs and inline atoms.
    Big = list_to_tuple([case I rem 3 of 0 -> a; 1 -> make_ref(); 2 -> 'ü' end || I <- lists:seq(1, 300)]),
    {Atoms, BigBin} = cache_encode(Big, 1),
    BigVT = ?NIF:dist_ext_to_vterm(Atoms, BigBin),
    ?assertMatch(#vterm_large_tuple_ext{arity = 300}, BigVT),
    ?assertEqual(Big, vterm:simplify(Atoms, BigVT)),
    %% Deep nesting needs no stack.
    Deep = lists:foldl(fun(_, Acc) -> [Acc] end, x, lists:seq(1, 100000)),
    ?assertEqual(Deep, vterm:simplify(?NIF:dist_ext_to_vterm({}, term_to_binary(Deep)))),
    ?assertEqual(Deep, ?NIF:dist_ext_to_term({}, term_to_binary(Deep))).

%%--------------------------------------------------------------------
%% Lazy limits

prop_lazy_limits(_Config) ->
    Prop = ?FORALL({T, Seed, Extra}, {term_g(), integer(), range(3, 20)},
               begin
                   {Atoms, Bin} = cache_encode(T, Seed),
                   Expected = erts_debug:dist_ext_to_term(Atoms, Bin),
                   Full = ?NIF:dist_ext_to_vterm(Atoms, Bin, -1),
                   Results =
                       [begin
                            VT = ?NIF:dist_ext_to_vterm(Atoms, Bin, L),
                            {L, strip_lazy(VT) =:= lazy_model(Full, L),
                             vterm:simplify(Atoms, VT) =:= Expected}
                        end || L <- [-1, 0, 1, 2, Extra]],
                   ?WHENFAIL(ct:pal("T = ~p~nresults ~p", [T, Results]),
                             lists:all(fun({_, A, B}) -> A andalso B end, Results))
               end),
    check(Prop).

lazy_fixed(_Config) ->
    Bin = latin1_atoms({a, [b, {c}], #{d => e}}),
    Lazy = fun(L) -> ?NIF:dist_ext_to_vterm({}, Bin, L) end,
    Slice = fun(T) -> <<131, S/binary>> = latin1_atoms(T), S end,
    ?assertEqual(#vterm_lazy_term{slice = Slice({a, [b, {c}], #{d => e}})}, Lazy(0)),
    ?assertMatch(#vterm_small_tuple_ext{elements = [#vterm_atom_ext{name = a},
                                                    #vterm_lazy_term{},
                                                    #vterm_lazy_term{}]}, Lazy(1)),
    ?assertMatch(#vterm_small_tuple_ext{elements = [#vterm_atom_ext{name = a},
                                                    #vterm_lazy_term{},
                                                    #vterm_lazy_term{}]}, Lazy(2)),
    ?assertMatch(#vterm_small_tuple_ext{
                    elements = [#vterm_atom_ext{name = a},
                                #vterm_list_ext{elements = [#vterm_atom_ext{name = b}, #vterm_lazy_term{}]},
                                #vterm_lazy_term{slice = <<116, 1:32, _/binary>>}]}, Lazy(3)),
    ?assertEqual(?NIF:dist_ext_to_vterm({}, Bin), Lazy(100)),
    %% Slices are sub-binaries of the input (above 64 bytes: from OTP 27
    %% the VM copies smaller ones).
    BigBin = binary:copy(latin1_atoms({a, binary:copy(<<"x">>, 200)})),
    #vterm_lazy_term{slice = S0} = ?NIF:dist_ext_to_vterm({}, BigBin, 0),
    ?assertEqual(byte_size(BigBin), binary:referenced_byte_size(S0)),
    %% Internal encoding, cache refs inside a lazy slice.
    ?assertEqual(#vterm_lazy_term{slice = <<104, 1, 82, 0>>}, ?NIF:dist_int_to_vterm({x}, <<104, 1, 82, 0>>, 0)),
    ?assertEqual({x}, vterm:simplify({x}, ?NIF:dist_int_to_vterm({x}, <<104, 1, 82, 0>>, 0))),
    ?assertError(badarg, ?NIF:dist_ext_to_vterm({}, Bin, -2)),
    ?assertError(badarg, ?NIF:dist_ext_to_vterm({}, Bin, foo)).

%%--------------------------------------------------------------------
%% vdist

vdist_every_dop(_Config) ->
    Controls = controls(),
    %% Every DOP of udist.hrl is covered.
    Names = lists:usort([element(1, udist:cast_to_dop(C)) || C <- Controls]),
    ?assertEqual(30, length(Names)),
    lists:foreach(
      fun(Control) ->
              Udist = udist:cast_to_dop(Control),
              "udist_" ++ Rest = atom_to_list(element(1, Udist)),
              Name = list_to_atom("vdist_" ++ Rest),
              Ext = ?NIF:dist_ext_to_vdist({}, term_to_binary(Control)),
              ?assertEqual(Name, element(1, Ext), Control),
              ?assertEqual(tuple_size(Udist), tuple_size(Ext)),
              ?assertEqual(Udist, vdist:simplify(Ext), Control),
              ?assertEqual(Control, vdist:to_raw(Ext)),
              %% Internal encoding with every atom as a cache ref.
              {Atoms, <<131, Int/binary>>} = cache_encode(Control, all),
              IntDop = ?NIF:dist_int_to_vdist(Atoms, Int),
              ?assertEqual(Name, element(1, IntDop)),
              ?assertEqual(Udist, vdist:simplify(IntDop), Control),
              %% Bytes after the control message (a payload) are not read.
              ?assertEqual(IntDop, ?NIF:dist_int_to_vdist(Atoms, <<Int/binary, 131, 106>>))
      end, Controls),
    P = self(),
    ?assertMatch(#vdist_dop_altact_sig_send{flags = #vterm_small_integer_ext{value = 2},
                                            token = {some, #vterm_atom_ext{name = tok}}},
                 ?NIF:dist_ext_to_vdist({}, latin1_atoms({37, 2, P, P, tok}))),
    ?assertMatch(#vdist_dop_altact_sig_send{token = none},
                 ?NIF:dist_ext_to_vdist({}, term_to_binary({37, 0, P, P}))),
    ?assertMatch(#vdist_dop_reg_send{to_name = #vterm_atom_cache_ref_resolved{index = 0, term = rex}},
                 ?NIF:dist_int_to_vdist({rex}, <<104, 4, 97, 6, (inner(P))/binary, 106, 82, 0>>)).

vdist_errors(_Config) ->
    P = self(),
    Err = fun(Bin) ->
                  try ?NIF:dist_ext_to_vdist({}, Bin) of
                      R -> {returned, R}
                  catch error:{erldist_filter, Kind, #{offset := _}} -> Kind
                  end
          end,
    ?assertEqual(wrong_control_arity, Err(term_to_binary({1, P}))),
    ?assertEqual(wrong_control_arity, Err(term_to_binary({6, P, '', name, extra, extra}))),
    ?assertEqual(wrong_control_arity, Err(term_to_binary({37, 0, P}))),
    ?assertEqual(unknown_dop, Err(term_to_binary({5, P, P}))),
    ?assertEqual(unknown_dop, Err(term_to_binary({38, P, P}))),
    ?assertEqual(bad_control_element, Err(term_to_binary({1, foo, P}))),
    ?assertEqual(bad_control_element, Err(term_to_binary({6, P, '', "name"}))),
    ?assertEqual(malformed_control, Err(term_to_binary([1, P, P]))),
    ?assertEqual(malformed_control, Err(term_to_binary({}))),
    ?assertEqual(truncated, Err(binary:part(term_to_binary({1, P, P}), 0, 10))),
    ?assertEqual(bad_magic, Err(<<104, 3, 97, 1>>)),
    ?assertError(badarg, ?NIF:dist_int_to_vdist(foo, <<>>)).

%%--------------------------------------------------------------------
%% Errors

argument_errors(_Config) ->
    Bin = term_to_binary(foo),
    TooMany = list_to_tuple(lists:duplicate(256, a)),
    Funs = [fun(A, B) -> ?NIF:dist_ext_to_term(A, B) end,
            fun(A, B) -> ?NIF:dist_ext_to_vterm(A, B) end,
            fun(A, B) -> ?NIF:dist_ext_to_vterm(A, B, 1) end,
            fun(A, B) -> ?NIF:dist_int_to_vterm(A, B) end,
            fun(A, B) -> ?NIF:dist_int_to_vterm(A, B, 1) end,
            fun(A, B) -> ?NIF:dist_ext_to_vdist(A, B) end,
            fun(A, B) -> ?NIF:dist_int_to_vdist(A, B) end],
    lists:foreach(
      fun(F) ->
              ?assertError(badarg, F([a], Bin)),
              ?assertError(badarg, F({a, 1}, Bin)),
              ?assertError(badarg, F(TooMany, Bin)),
              ?assertError(badarg, F({}, binary_to_list(Bin))),
              ?assertError(badarg, F({}, <<Bin/binary, 1:3>>))
      end, Funs),
    %% erts_debug agrees on the atoms tuple.
    ?assertError(badarg, erts_debug:dist_ext_to_term([a], Bin)),
    ?assertError(badarg, erts_debug:dist_ext_to_term(TooMany, Bin)),
    %% 255 atoms are fine.
    Max = list_to_tuple([list_to_atom("a" ++ integer_to_list(I)) || I <- lists:seq(0, 254)]),
    ?assertEqual(a254, ?NIF:dist_ext_to_term(Max, <<131, 82, 254>>)),
    ?assertError(badarg, ?NIF:dist_decode_nif(nonsense, {}, Bin, -1)).

format_errors(_Config) ->
    Kind = fun(F) ->
                   try F() of
                       R -> {returned, R}
                   catch error:{erldist_filter, K, #{offset := O, message := M}} when is_binary(M) -> {K, O}
                   end
           end,
    %% dist_ext_to_term: plain badarg, as erts_debug.
    lists:foreach(
      fun(Bin) ->
              ?assertError(badarg, ?NIF:dist_ext_to_term({a}, Bin)),
              ?assertError(badarg, erts_debug:dist_ext_to_term({a}, Bin))
      end,
      [<<>>, <<131>>, <<104, 0>>, <<131, 82, 1>>, <<131, 104, 2, 97>>, <<131, 255>>,
       <<131, 104, 1, 82>>, <<131, 88, 82, 0, 1:32>>]),
    %% vterm: the core's error kinds.
    ?assertEqual({bad_magic, 0}, Kind(fun() -> ?NIF:dist_ext_to_vterm({}, <<104, 0>>) end)),
    ?assertEqual({truncated, 3}, Kind(fun() -> ?NIF:dist_ext_to_vterm({}, <<131, 104, 1>>) end)),
    ?assertEqual({atom_cache_ref_out_of_range, 1}, Kind(fun() -> ?NIF:dist_ext_to_vterm({a}, <<131, 82, 1>>) end)),
    ?assertEqual({unsupported_tag, 0}, Kind(fun() -> ?NIF:dist_int_to_vterm({}, <<255>>) end)),
    ?assertMatch({truncated, _}, Kind(fun() -> ?NIF:dist_int_to_vterm({}, <<>>) end)),
    %% Fun whose size field lies.
    <<131, 112, Size:32, Rest/binary>> = term_to_binary(fun() -> self() end),
    ?assertMatch({malformed_term, _},
                 Kind(fun() -> ?NIF:dist_ext_to_vterm({}, <<131, 112, (Size + 1):32, Rest/binary, 106>>) end)),
    %% (ERTS does not check a fun's size; dist_ext_to_term follows it.)
    Lying = <<131, 112, (Size + 1):32, Rest/binary, 106>>,
    ?assertEqual(outcome(fun() -> erts_debug:dist_ext_to_term({}, Lying) end),
                 outcome(fun() -> ?NIF:dist_ext_to_term({}, Lying) end)).

%%--------------------------------------------------------------------
%% Scheduling

%% A 10 MB input runs on a dirty scheduler: a system monitor sees no
%% long_schedule for the decoding process. The same call forced onto the
%% normal scheduler (`dist_decode_nif/4' directly) is reported, which
%% shows the check can fail.
large_input_not_blocking(_Config) ->
    List = lists:seq(1, 2100000),
    Big = term_to_binary(List),
    true = byte_size(Big) > 10000000,
    {ok, Reports, Results} = run_monitored(
                               fun() ->
                                       T = ?NIF:dist_ext_to_term({}, Big),
                                       VT = ?NIF:dist_ext_to_vterm({}, Big),
                                       {T =:= List, length(VT#vterm_list_ext.elements)}
                               end),
    ?assertEqual({true, 2100000}, Results),
    ?assertEqual([], Reports),
    {ok, Reports2, _} = run_monitored(fun() -> ?NIF:dist_decode_nif(ext_vterm, {}, Big, -1), ok end),
    ct:pal("normal-scheduler control run: ~p", [Reports2]),
    ?assertMatch([_ | _], Reports2).

run_monitored(Fun) ->
    Self = self(),
    Old = erlang:system_monitor(Self, [{long_schedule, 100}]),
    {Pid, Ref} = spawn_monitor(fun() -> exit({done, Fun()}) end),
    Result = receive {'DOWN', Ref, process, Pid, {done, R}} -> R end,
    timer:sleep(50),
    restore_monitor(Old),
    Reports = flush_long_schedule(Pid, []),
    {ok, Reports, Result}.

restore_monitor(undefined) -> erlang:system_monitor(undefined);
restore_monitor({P, Opts}) -> erlang:system_monitor(P, Opts).

flush_long_schedule(Pid, Acc) ->
    receive
        {monitor, Pid, long_schedule, Info} -> flush_long_schedule(Pid, [Info | Acc]);
        {monitor, _, long_schedule, _} -> flush_long_schedule(Pid, Acc)
    after 0 -> lists:reverse(Acc)
    end.

%%--------------------------------------------------------------------
%% Generators

term_g() ->
    ?SIZED(S, term_g(min(S, 40))).

term_g(S) when S =< 1 ->
    leaf_g();
term_g(S) ->
    frequency([{4, leaf_g()},
               {1, ?LAZY(?LET(L, list(term_g(S div 3)), list_to_tuple(L)))},
               {1, ?LAZY(list(term_g(S div 3)))},
               {1, ?LAZY(?LET({L, T}, {non_empty(list(term_g(S div 3))), improper_tail_g()}, L ++ T))},
               {1, ?LAZY(?LET(L, list({term_g(S div 4), term_g(S div 4)}), maps:from_list(L)))},
               {1, ?LAZY(closure_g(S div 3))},
               {1, ?LAZY(big_container_g())}]).

leaf_g() ->
    oneof([atom_g(), int_g(), float(), binary(), bitstring(), [], string_g(),
           pid_g(), ref_g(), port_g(), export_g()]).

atom_g() ->
    oneof([elements([a, foo, '', true, nonode@nohost, 'bär', '日本']),
           ?LET(L, short_list(range(0, 255)), list_to_atom(L)),
           ?LET(L, short_list(unicode_char_g()), list_to_atom(L)),
           ?LET(C, unicode_char_g(), list_to_atom(lists:duplicate(255, C)))]).

unicode_char_g() ->
    oneof([range(0, 255), range(256, 16#D7FF), range(16#E000, 16#10FFFF)]).

short_list(G) ->
    ?LET(L, list(G), lists:sublist(L, 255)).

int_g() ->
    oneof([range(0, 255), range(-16#80000000, 16#7fffffff), integer(),
           ?LET({Sign, N}, {elements([1, -1]), range(0, 1 bsl 100)}, Sign * (N + (1 bsl 31))),
           ?LET({Sign, N}, {elements([1, -1]), range(0, 1 bsl 64)}, Sign * (N bsl 2100))]).

string_g() ->
    list(range(0, 255)).

improper_tail_g() ->
    oneof([atom_g(), int_g(), binary(), ?LAZY(?LET(T, leaf_g(), {T}))]).

pid_g() ->
    oneof([self(),
           ?LET({Node, Id, Serial, Cr}, {node_g(), range(0, 16#7fff), range(0, 16#1fff), range(0, 16#ffffffff)},
                binary_to_term(<<131, 88, (inner(Node))/binary, Id:32, Serial:32, Cr:32>>))]).

ref_g() ->
    oneof([make_ref(),
           ?LET({Node, Cr, Ids}, {node_g(), range(0, 16#ffffffff), vector(3, range(0, 16#ffffffff))},
                binary_to_term(<<131, 90, 3:16, (inner(Node))/binary, Cr:32,
                                 << <<I:32>> || I <- Ids >>/binary>>))]).

port_g() ->
    oneof([persistent_term:get({?MODULE, port}),
           ?LET({Node, Id, Cr}, {node_g(), range(0, 16#fffffff), range(0, 16#ffffffff)},
                binary_to_term(<<131, 89, (inner(Node))/binary, Id:32, Cr:32>>)),
           ?LET({Node, Id, Cr}, {node_g(), range(0, 1 bsl 40), range(0, 16#ffffffff)},
                binary_to_term(<<131, 120, (inner(Node))/binary, Id:64, Cr:32>>))]).

node_g() ->
    elements(['peer@host', 'nøde@høst', '節点@host', 'x@y']).

export_g() ->
    oneof([fun lists:map/2, fun erlang:self/0,
           ?LET({M, F, A}, {atom_g(), atom_g(), range(0, 255)}, erlang:make_fun(M, F, A))]).

closure_g(S) ->
    oneof([?LET(V, term_g(S), fun() -> V end),
           ?LET({V, W}, {term_g(S), term_g(S)}, fun(X) -> {X, V, W} end),
           fun() -> ok end]).

big_container_g() ->
    oneof([?LET(L, vector(300, leaf_g()), list_to_tuple(L)),
           ?LET(L, vector(40, {int_g(), leaf_g()}), maps:from_list(L))]).

mutation_g() ->
    oneof([{truncate, range(0, 1000)},
           {flip, range(0, 1000), range(1, 255)},
           {insert, range(0, 1000), range(0, 255)}]).

mutate({truncate, N}, Bin) ->
    binary:part(Bin, 0, N rem byte_size(Bin));
mutate({flip, N, X}, Bin) ->
    At = N rem byte_size(Bin),
    <<H:At/binary, B, T/binary>> = Bin,
    <<H/binary, (B bxor X), T/binary>>;
mutate({insert, N, X}, Bin) ->
    At = N rem byte_size(Bin),
    <<H:At/binary, T/binary>> = Bin,
    <<H/binary, X, T/binary>>.

%%--------------------------------------------------------------------
%% The test's own encoder: external format with chosen atoms written as
%% ATOM_CACHE_REF (82, Index) into an atoms tuple.

%% Encode with the atoms a seed picks (or `all') as cache refs; returns
%% the atoms tuple and the external binary.
cache_encode(T, Seed) ->
    All = lists:usort(atoms_of(T, [])),
    Picked = case Seed of
                 all -> All;
                 _ -> [A || A <- All, erlang:phash2({Seed, A}, 3) =/= 0]
             end,
    Chosen = lists:sublist(lists:sort(fun(A, B) -> erlang:phash2({Seed, A}) =< erlang:phash2({Seed, B}) end,
                                      Picked), 200),
    %% An unused atom in front, so indexes do not start at 0.
    AtomList = [unused_atom | Chosen],
    Index = maps:from_list(lists:zip(AtomList, lists:seq(0, length(AtomList) - 1))),
    {list_to_tuple(AtomList), cache_encode(T, Index, Seed)}.

cache_encode(T, Index, Seed) ->
    iolist_to_binary([131, enc(T, Index, Seed)]).

enc(A, Index, Seed) when is_atom(A) ->
    case Index of
        #{A := I} -> <<82, I>>;
        _ -> enc_atom_inline(A, Seed)
    end;
enc(T, Index, Seed) when is_tuple(T), tuple_size(T) =< 255 ->
    [<<104, (tuple_size(T))>> | [enc(E, Index, Seed) || E <- tuple_to_list(T)]];
enc(T, Index, Seed) when is_tuple(T) ->
    [<<105, (tuple_size(T)):32>> | [enc(E, Index, Seed) || E <- tuple_to_list(T)]];
enc([], _, _) ->
    106;
enc(L, Index, Seed) when is_list(L) ->
    case io_lib:printable_latin1_list(L) andalso length(L) < 65536 of
        true ->
            inner(L);
        false ->
            {Es, Tail} = split_list(L, []),
            [<<108, (length(Es)):32>>, [enc(E, Index, Seed) || E <- Es], enc(Tail, Index, Seed)]
    end;
enc(M, Index, Seed) when is_map(M) ->
    [<<116, (map_size(M)):32>> | [[enc(K, Index, Seed), enc(V, Index, Seed)] || {K, V} <- maps:to_list(M)]];
enc(P, Index, Seed) when is_pid(P); is_port(P) ->
    <<Tag, Rest/binary>> = inner(P),
    [Tag, enc(node(P), Index, Seed), skip_atom(Rest)];
enc(R, Index, Seed) when is_reference(R) ->
    <<90, Len:16, Rest/binary>> = inner(R),
    [<<90, Len:16>>, enc(node(R), Index, Seed), skip_atom(Rest)];
enc(F, Index, Seed) when is_function(F) ->
    case erlang:fun_info(F, type) of
        {type, external} ->
            {module, M} = erlang:fun_info(F, module),
            {name, N} = erlang:fun_info(F, name),
            {arity, A} = erlang:fun_info(F, arity),
            [113, enc(M, Index, Seed), enc(N, Index, Seed), <<97, A>>];
        {type, local} ->
            <<112, _Size:32, Head:25/binary, Rest0/binary>> = inner(F),
            {module, M} = erlang:fun_info(F, module),
            Rest1 = skip_atom(Rest0),
            {Olds, Rest2} = split_ints(Rest1, 2, []),
            {pid, Pid} = erlang:fun_info(F, pid),
            {env, Env} = erlang:fun_info(F, env),
            _ = Rest2,
            Body = iolist_to_binary([Head, enc(M, Index, Seed), Olds, enc(Pid, Index, Seed),
                                     [enc(V, Index, Seed) || V <- Env]]),
            [112, <<(byte_size(Body) + 4):32>>, Body]
    end;
enc(T, _, _) ->
    %% Numbers, binaries, bitstrings: no atoms inside.
    inner(T).

%% Latin-1-representable atoms sometimes as ATOM_EXT / SMALL_ATOM_EXT,
%% otherwise UTF-8 (small or not by length).
enc_atom_inline(A, Seed) ->
    Utf8 = atom_to_binary(A, utf8),
    Latin1 = try atom_to_binary(A, latin1) catch error:badarg -> none end,
    case {Latin1, erlang:phash2({Seed, A}, 4)} of
        {none, _} when byte_size(Utf8) < 256 -> <<119, (byte_size(Utf8)), Utf8/binary>>;
        {none, _} -> <<118, (byte_size(Utf8)):16, Utf8/binary>>;
        {_, 0} -> <<100, (byte_size(Latin1)):16, Latin1/binary>>;
        {_, 1} -> <<115, (byte_size(Latin1)), Latin1/binary>>;
        {_, 2} when byte_size(Utf8) < 256 -> <<119, (byte_size(Utf8)), Utf8/binary>>;
        {_, _} -> <<118, (byte_size(Utf8)):16, Utf8/binary>>
    end.

skip_atom(<<100, L:16, _:L/binary, R/binary>>) -> R;
skip_atom(<<115, L, _:L/binary, R/binary>>) -> R;
skip_atom(<<118, L:16, _:L/binary, R/binary>>) -> R;
skip_atom(<<119, L, _:L/binary, R/binary>>) -> R.

split_ints(R, 0, Acc) -> {lists:reverse(Acc), R};
split_ints(<<97, I, R/binary>>, N, Acc) -> split_ints(R, N - 1, [<<97, I>> | Acc]);
split_ints(<<98, I:4/binary, R/binary>>, N, Acc) -> split_ints(R, N - 1, [<<98, I/binary>> | Acc]).

split_list([H | T], Acc) -> split_list(T, [H | Acc]);
split_list(Tail, Acc) -> {lists:reverse(Acc), Tail}.

atoms_of(A, Acc) when is_atom(A) -> [A | Acc];
atoms_of(T, Acc) when is_tuple(T) -> lists:foldl(fun atoms_of/2, Acc, tuple_to_list(T));
atoms_of([H | T], Acc) -> atoms_of(T, atoms_of(H, Acc));
atoms_of(M, Acc) when is_map(M) -> atoms_of(maps:to_list(M), Acc);
atoms_of(P, Acc) when is_pid(P); is_port(P); is_reference(P) -> [node(P) | Acc];
atoms_of(F, Acc) when is_function(F) ->
    {module, M} = erlang:fun_info(F, module),
    case erlang:fun_info(F, type) of
        {type, external} ->
            {name, N} = erlang:fun_info(F, name),
            [M, N | Acc];
        {type, local} ->
            {env, Env} = erlang:fun_info(F, env),
            {pid, Pid} = erlang:fun_info(F, pid),
            atoms_of(Env, [M, node(Pid) | Acc])
    end;
atoms_of(_, Acc) -> Acc.

%%--------------------------------------------------------------------
%% Lazy model: pre-order count, leaves included; once `Limit' terms are
%% decoded every compound not yet started is lazy.

lazy_model(VT, Limit) ->
    {R, _} = lazy_model(VT, Limit, 0),
    R.

lazy_model(VT, Limit, N) ->
    case is_compound(VT) of
        true when Limit >= 0, N >= Limit -> {lazy, N};
        true -> map_children(fun(C, Acc) -> lazy_model(C, Limit, Acc) end, N + 1, VT);
        false -> {VT, N + 1}
    end.

strip_lazy(#vterm_lazy_term{}) ->
    lazy;
strip_lazy(VT) ->
    {R, _} = map_children(fun(C, Acc) -> {strip_lazy(C), Acc} end, 0, VT),
    R.

is_compound(VT) ->
    is_record(VT, vterm_small_tuple_ext) orelse is_record(VT, vterm_large_tuple_ext)
        orelse is_record(VT, vterm_list_ext) orelse is_record(VT, vterm_map_ext)
        orelse is_record(VT, vterm_new_fun_ext) orelse is_record(VT, vterm_record_ext).

map_children(F, Acc0, #vterm_small_tuple_ext{elements = Es} = VT) ->
    {Es1, Acc} = lists:mapfoldl(F, Acc0, Es),
    {VT#vterm_small_tuple_ext{elements = Es1}, Acc};
map_children(F, Acc0, #vterm_large_tuple_ext{elements = Es} = VT) ->
    {Es1, Acc} = lists:mapfoldl(F, Acc0, Es),
    {VT#vterm_large_tuple_ext{elements = Es1}, Acc};
map_children(F, Acc0, #vterm_list_ext{elements = Es, tail = T} = VT) ->
    {Es1, Acc1} = lists:mapfoldl(F, Acc0, Es),
    {T1, Acc} = F(T, Acc1),
    {VT#vterm_list_ext{elements = Es1, tail = T1}, Acc};
map_children(F, Acc0, #vterm_map_ext{pairs = Ps} = VT) ->
    {Ps1, Acc} = lists:mapfoldl(fun({K, V}, A0) ->
                                        {K1, A1} = F(K, A0),
                                        {V1, A2} = F(V, A1),
                                        {{K1, V1}, A2}
                                end, Acc0, Ps),
    {VT#vterm_map_ext{pairs = Ps1}, Acc};
map_children(F, Acc0, #vterm_new_fun_ext{free_vars = Fs} = VT) ->
    {Fs1, Acc} = lists:mapfoldl(F, Acc0, Fs),
    {VT#vterm_new_fun_ext{free_vars = Fs1}, Acc};
map_children(_F, Acc, VT) ->
    {VT, Acc}.

no_unresolved_refs(VT) ->
    not is_record(VT, vterm_atom_cache_ref)
        andalso element(2, map_children(fun(C, Ok) -> {C, Ok andalso no_unresolved_refs(C)} end, true, VT)).

%%--------------------------------------------------------------------
%% Helpers

controls() ->
    P = self(),
    R = make_ref(),
    T = {token, 1},
    Remote = binary_to_term(<<131, 88, (inner('peer@host'))/binary, 5:32, 0:32, 1:32>>),
    Basic = [{1, P, Remote}, {2, '', P}, {3, P, P, normal}, {4, P, P}, {6, P, '', rex},
             {7, P, P}, {8, P, P, kill}, {12, '', P, T}, {13, P, P, T, normal},
             {16, P, '', rex, T}, {18, P, P, T, kill}, {19, P, P, R}, {19, P, rex, R},
             {20, P, rex, R}, {21, P, P, R, noproc}, {21, rex, P, R, noproc},
             {22, P, P}, {23, P, P, T}, {24, P, P}, {25, P, P, T}, {26, P, P}, {27, P, P, T},
             {28, P, P, R}, {28, rex, P, R},
             {29, R, P, P, {io, format, 1}, [link, monitor]},
             {30, R, P, P, {io, format, 1}, [], T},
             {31, R, P, 0, Remote}, {31, R, P, 1, failed}, {32, R, P, 0, failed, T},
             {33, P, R}, {34, P, R, T}, {35, 7, P, P}, {36, 1 bsl 70, P, P}],
    Altact = [begin
                  To = altact_target(Flags, P, R),
                  case Flags band 2 of
                      0 -> {37, Flags, P, To};
                      _ -> {37, Flags, P, To, T}
                  end
              end || Flags <- lists:seq(0, 31)],
    Basic ++ Altact.

altact_target(Flags, P, R) ->
    Exit = Flags band 16 =/= 0,
    Alias = Flags band 4 =/= 0,
    Name = Flags band 8 =/= 0,
    if
        Exit, not Alias -> P;
        Exit -> R;
        Name -> rex;
        Alias -> R;
        true -> P
    end.

ext(Bin = <<131, _/binary>>) -> Bin.

inner(T) ->
    <<131, Rest/binary>> = term_to_binary(T),
    Rest.

outcome(F) ->
    try F() of
        V -> {ok, V}
    catch
        error:badarg -> badarg;
        C:E -> {C, E}
    end.

check(Prop) ->
    true = proper:quickcheck(Prop, [{numtests, ?NUMTESTS}, {to_file, user}, long_result]) =:= true
        orelse ct:fail(property_failed),
    ok.

%% The atom encoding these cases pin (ATOM_EXT for Latin-1 atoms), which
%% OTP 25 writes by default and every later OTP on request (UTF-8 atoms
%% are the default from 26).
latin1_atoms(Term) ->
    term_to_binary(Term, [{minor_version, 1}]).

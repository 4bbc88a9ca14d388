%% @doc Atom-cache correctness around held fragmented messages (SPEC §4.10,
%% §10.4): commit frames, header rewrite and rollback when interleaved
%% frames overwrite cache slots a held message uses. The NIF's output must
%% equal `edf_model_channel' byte for byte (all packets in one call, and one
%% packet per call), and replaying the emitted frames through an independent
%% receiver (`edf_model_channel:replay/2', decoding with
%% `erts_debug:dist_ext_to_term/2') must deliver exactly what was sent.
-module(erldist_filter_conflict_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, groups/0, init_per_suite/1, end_per_suite/1,
         init_per_group/2, end_per_group/2, init_per_testcase/2, end_per_testcase/2]).
-export([sequential_many/1, reads_writes_no_conflict/1, overwrite_no_conflict/1,
         rollback_only/1, rewrite_and_rollback/1, conflict_with_new_entries/1,
         full_cache_three_sequences/1, packet_size_0_one_per_call/1]).

-define(DFLAGS, (16#D07DF7FBC bor 16#2)).
-define(FRAG, {fragment, 127}).
all() ->
    [{group, G} || G <- [dpi_compact_off, dpi_compact_on, dpi_off_compact_on, dpi_off_compact_off]].

groups() ->
    Cases = [sequential_many, reads_writes_no_conflict, overwrite_no_conflict, rollback_only,
             rewrite_and_rollback, conflict_with_new_entries, full_cache_three_sequences,
             packet_size_0_one_per_call],
    [{G, [], Cases} || G <- [dpi_compact_off, dpi_compact_on, dpi_off_compact_on, dpi_off_compact_off]].

init_per_suite(Config) ->
    {module, _} = code:ensure_loaded(erldist_filter_nif),
    edf_test_switches:all_off(),
    Config.

end_per_suite(_Config) ->
    edf_test_switches:all_off().

init_per_group(G, Config) ->
    Dpi = #{deep_packet_inspection => true, logging => true, otp_name_blocklist => true},
    Edf = case G of
              dpi_compact_off -> Dpi#{compact_fragments => false};
              dpi_compact_on -> Dpi#{compact_fragments => true};
              dpi_off_compact_on -> #{compact_fragments => true};
              dpi_off_compact_off -> #{}
          end,
    [{edf, Edf} | Config].

end_per_group(_, _) -> ok.

init_per_testcase(_, Config) -> edf_test_switches:all_off(), Config.

end_per_testcase(_, _) -> edf_test_switches:all_off().

%%--------------------------------------------------------------------
%% Messages
%%--------------------------------------------------------------------

from() -> edf_model_fixtures:pid(edf_model_fixtures:sender(), 11).

%% A benign registered send (classified emit) carrying `Atoms', optionally
%% padded so that it needs several 127-byte fragments.
msg(Atoms, Pad) ->
    {{6, from(), '', my_server}, {data, Atoms, binary:copy(<<"x">>, Pad)}}.

enc(E, Mode, Msg) ->
    edf_model_encode:encode(E, Mode, Msg).

new_enc(Forced) ->
    lists:foldl(fun({A, S}, E) -> edf_model_encode:force_slot(E, A, S) end,
                edf_model_encode:new(?DFLAGS), Forced).

%%--------------------------------------------------------------------
%% Cases: each builds packets in wire order and the messages in the order
%% the receiver must get them.
%%--------------------------------------------------------------------

sequential_many(Config) ->
    E0 = new_enc([]),
    Msgs = [msg([list_to_atom("seq_" ++ integer_to_list(I rem 37)), from_node], (I * 53) rem 400)
            || I <- lists:seq(1, 150)],
    {Frames, _} = edf_model_encode:encode_all(E0, ?FRAG, Msgs),
    run(Config, Frames, Msgs).

%% Fragmented messages interleaved frame by frame, sharing atoms.
reads_writes_no_conflict(Config) ->
    E0 = new_enc([]),
    Msgs = [msg([rw_a, rw_b, list_to_atom("rw_" ++ integer_to_list(I))], 300) || I <- lists:seq(1, 6)],
    {FrameLists, _} = lists:mapfoldl(fun(M, E) -> enc(E, ?FRAG, M) end, E0, Msgs),
    Frames = interleave(FrameLists),
    run(Config, Frames, completion_order(FrameLists, Frames, Msgs)).

%% A held message; an interleaved one overwrites a slot the held message
%% does not use.
overwrite_no_conflict(Config) ->
    E0 = new_enc([{ow_x, 100}, {ow_y, 101}, {ow_z, 101}]),
    P = msg([ow_z], 0),
    A = msg([ow_x], 400),
    B = msg([ow_y], 0),
    {[P1], E1} = enc(E0, normal, P),
    {[A1 | As], E2} = enc(E1, ?FRAG, A),
    {[B1], _} = enc(E2, normal, B),
    run(Config, [P1, A1, B1 | As], [P, B, A]).

%% The held message's new entry is overwritten: rollback only (header kept).
rollback_only(Config) ->
    E0 = new_enc([{rb_x, 100}, {rb_y, 100}]),
    P = msg([], 0),
    A = msg([rb_x], 400),
    B = msg([rb_y], 0),
    {[P1], E1} = enc(E0, normal, P),
    {[A1 | As], E2} = enc(E1, ?FRAG, A),
    {[B1], _} = enc(E2, ?FRAG, B),
    run(Config, [P1, A1, B1 | As], [P, B, A]).

%% The held message's old ref is overwritten: header rewritten (old ref →
%% new entry, its own new entry → old ref) and rollback.
rewrite_and_rollback(Config) ->
    E0 = new_enc([{rr_x, 100}, {rr_y, 100}, {rr_z, 200}]),
    P = msg([rr_x], 0),
    A = msg([rr_x, rr_z], 400),
    B = msg([rr_y], 0),
    {[P1], E1} = enc(E0, normal, P),
    {[A1 | As], E2} = enc(E1, ?FRAG, A),
    {[B1], _} = enc(E2, normal, B),
    run(Config, [P1, A1, B1 | As], [P, B, A]).

%% A conflicting new entry alongside new entries that still match.
conflict_with_new_entries(Config) ->
    E0 = new_enc([{cn_x, 300}, {cn_y, 300}, {cn_z, 301}, {cn_w, 302}]),
    A = msg([cn_x, cn_z, cn_w], 500),
    B = msg([cn_y], 0),
    {[A1, A2 | As], E1} = enc(E0, ?FRAG, A),
    {[B1], _} = enc(E1, ?FRAG, B),
    run(Config, [A1, A2, B1 | As], [B, A]).

%% Fill all 2039 slots, then three fragmented messages each conflicting on
%% different slots (new entries and old refs), completed out of order.
full_cache_three_sequences(Config) ->
    Fill = [{list_to_atom("fill_" ++ integer_to_list(S)), S} || S <- lists:seq(0, 2038)],
    Forced = Fill ++ [{fa_new, 10}, {fb_new, 20}, {fc_new, 30},
                      {fd_1, 10}, {fd_2, 20}, {fe_1, 30}, {fe_2, 40}, {fe_3, 50}],
    E0 = new_enc(Forced),
    FillMsgs = [msg([A || {A, _} <- Chunk], 0) || Chunk <- chunk(Fill, 200)],
    {FillFrames, E1} = edf_model_encode:encode_all(E0, normal, FillMsgs),
    A = msg([fa_new, fill_40, fill_60], 700),
    B = msg([fb_new, fill_50, fill_61], 500),
    C = msg([fc_new, fill_40, fill_50, fill_62], 600),
    D = msg([fd_1, fd_2], 0),
    Ee = msg([fe_1, fe_2, fe_3], 200),
    {[A1 | As], E2} = enc(E1, ?FRAG, A),
    {[B1 | Bs], E3} = enc(E2, ?FRAG, B),
    {[C1 | Cs], E4} = enc(E3, ?FRAG, C),
    {[D1], E5} = enc(E4, normal, D),
    {EFrames, _} = enc(E5, ?FRAG, Ee),
    Frames = FillFrames ++ [A1, B1, C1, D1] ++ EFrames ++ Cs ++ interleave([As, Bs]),
    Lists = [[F] || F <- FillFrames] ++ [[A1 | As], [B1 | Bs], [C1 | Cs], [D1], EFrames],
    run(Config, Frames, completion_order(Lists, Frames, FillMsgs ++ [A, B, C, D, Ee])).

%% Packet size 0: every call carries exactly one frame.
packet_size_0_one_per_call(Config) ->
    E0 = new_enc([{p0_x, 100}, {p0_y, 100}]),
    A = msg([p0_x], 400),
    B = msg([p0_y], 0),
    {[A1 | As], E1} = enc(E0, ?FRAG, A),
    {[B1], _} = enc(E1, normal, B),
    Frames = [A1, B1 | As],
    Cfg = proplists:get_value(edf, Config),
    M0 = edf_model_channel:new(0, ?DFLAGS, Cfg#{sysname => edf_model_fixtures:sender()}),
    {Emits, M1} = lists:foldl(fun(F, {Acc, M}) ->
                                      {E, _, Mx} = edf_model_channel:recv(M, [F]),
                                      {Acc ++ E, Mx}
                              end, {[], M0}, Frames),
    check_delivery(Emits, [B, A]),
    ok = erldist_filter_nif:config_set(maps:with(edf_test_switches:all(), Cfg)),
    Ch = erldist_filter_nif:channel_open(0, edf_model_fixtures:sender(), 1, 3, ?DFLAGS),
    Out = lists:append([emits(erldist_filter_nif:channel_recv(Ch, [F])) || F <- Frames]),
    Cache = nif_cache(Ch),
    _ = erldist_filter_nif:channel_close(Ch),
    compare(one_per_call, Emits, Out),
    compare_cache(edf_model_channel:cache(M1), Cache).

%%--------------------------------------------------------------------
%% Running and checking
%%--------------------------------------------------------------------

run(Config, Frames, Expected) ->
    Cfg = proplists:get_value(edf, Config),
    Sys = edf_model_fixtures:sender(),
    Packets = edf_model_encode:packets(Frames, 4),
    M0 = edf_model_channel:new(4, ?DFLAGS, Cfg#{sysname => Sys}),
    {Emits, _Logs, M1} = edf_model_channel:recv(M0, Packets),
    ct:log("config ~p: ~b frames in, model emits ~b", [Cfg, length(Frames), length(Emits)]),
    check_delivery(Emits, Expected),
    ok = erldist_filter_nif:config_set(maps:with(edf_test_switches:all(), Cfg)),
    Ch1 = erldist_filter_nif:channel_open(4, Sys, 1, 1, ?DFLAGS),
    Out1 = emits(erldist_filter_nif:channel_recv(Ch1, Packets)),
    Ch2 = erldist_filter_nif:channel_open(4, Sys, 1, 2, ?DFLAGS),
    Out2 = lists:append([emits(erldist_filter_nif:channel_recv(Ch2, [P])) || P <- Packets]),
    Cache1 = nif_cache(Ch1),
    _ = erldist_filter_nif:channel_close(Ch1),
    _ = erldist_filter_nif:channel_close(Ch2),
    edf_test_switches:all_off(),
    compare(all_at_once, Emits, Out1),
    compare(one_per_call, Emits, Out2),
    check_delivery(Out1, Expected),
    compare_cache(edf_model_channel:cache(M1), Cache1).

%% Replay the emitted frames through an independent receiver: the decoded
%% messages (no-ops removed) must be exactly what the sender encoded.
check_delivery(Emits, Expected) ->
    Got = [D || D <- edf_model_channel:replay(?DFLAGS, Emits), not edf_model_channel:is_noop(D)],
    case Got =:= Expected of
        true -> ok;
        false ->
            ct:log("delivered ~p~nexpected ~p", [Got, Expected]),
            ct:fail(delivery_mismatch)
    end.

emits(Actions) when is_list(Actions) -> [B || {emit, B} <- Actions];
emits(Other) -> ct:fail({channel_recv, Other}).

nif_cache(Ch) ->
    case erldist_filter_nif:channel_inspect(Ch) of
        #{rx := #{atom_cache := C}} -> C;
        _ -> not_reported
    end.

compare_cache(_Model, not_reported) -> ok;
compare_cache(Model, Nif) when Model =:= Nif -> ok;
compare_cache(Model, Nif) when is_list(Nif) ->
    ct:log("atom caches differ: model-only ~p~nnif-only ~p",
           [Model -- Nif, Nif -- Model]),
    ct:fail(atom_cache_differs);
compare_cache(_Model, Nif) ->
    ct:log("NIF atom cache not comparable: ~p", [Nif]).

compare(How, Expected, Got) when Expected =:= Got ->
    ct:log("~p: ~b frames equal", [How, length(Got)]);
compare(How, Expected, Got) ->
    ct:log("~p: expected ~b frames, got ~b", [How, length(Expected), length(Got)]),
    first_diff(How, 0, Expected, Got).

first_diff(How, I, [E | Es], [E | Gs]) -> first_diff(How, I + 1, Es, Gs);
first_diff(How, I, Es, Gs) ->
    ct:log("first difference at frame ~b~nexpected ~p~ngot      ~p", [I, hd_or(Es), hd_or(Gs)]),
    ct:fail({How, emitted_frames_differ, I}).

hd_or([H | _]) -> H;
hd_or([]) -> nothing.

%% Round-robin the frames of several messages (each message's own order kept).
interleave(Lists) ->
    case [L || L <- Lists, L =/= []] of
        [] -> [];
        Ne -> [hd(L) || L <- Ne] ++ interleave([tl(L) || L <- Ne])
    end.

%% Messages ordered by the position of their last frame in the wire order.
completion_order(FrameLists, Frames, Msgs) ->
    Pos = maps:from_list(lists:zip(Frames, lists:seq(1, length(Frames)))),
    Keyed = [{maps:get(lists:last(FL), Pos), M} || {FL, M} <- lists:zip(FrameLists, Msgs)],
    [M || {_, M} <- lists:keysort(1, Keyed)].

chunk([], _) -> [];
chunk(L, N) when length(L) =< N -> [L];
chunk(L, N) -> {H, T} = lists:split(N, L), [H | chunk(T, N)].

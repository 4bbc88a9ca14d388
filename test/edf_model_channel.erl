%% @doc Test oracle, receiver side: a model of `channel_recv' written from
%% SPEC §4 (framing, headers, rx atom cache, fragments, commit / header
%% rewrite / rollback, outcomes) and the test brief's decisions (drop, router
%% and spawn redirect layouts; fragments held with DPI on unless decided
%% from the first fragment).
%%
%% `recv/2' returns the emitted frames, the log events (without the time
%% stamp) and per-DOP counters. `replay/2' is an independent "VM": it
%% decodes a stream of emitted frames with its own atom cache and returns
%% the delivered messages, so tests can check that what the filter emits
%% still means what the sender sent.
-module(edf_model_channel).

-export([new/3]).
-export([recv/2]).
-export([stats/1]).
-export([cache/1]).
-export([replay/2]).
-export([is_noop/1]).

-define(DFLAG_DIST_HDR_ATOM_CACHE, 16#2).
-define(DFLAG_UTF8_ATOMS, 16#10000).
-define(DFLAG_FRAGMENTS, 16#800000).

-type model() :: map().
-type log_event() :: {node(), tuple(), binary(), binary() | undefined}.
-export_type([model/0, log_event/0]).

%% @doc `Config' holds the §3 booleans plus `sysname' and optionally
%% `router' (default: `erldist_filter_nif:router_name(Sysname)').
-spec new(0 | 1 | 2 | 4 | 8, non_neg_integer(), map()) -> model().
new(PacketSize, DFlags, Config0) ->
    Defaults = #{compact_fragments => false, deep_packet_inspection => false,
                 logging => false, otp_name_blocklist => false,
                 redirect_dist_operations => false, untrusted => false},
    Config = maps:merge(Defaults, Config0),
    Sysname = maps:get(sysname, Config),
    Router = case Config of
                 #{router := R} -> R;
                 _ -> erldist_filter_nif:router_name(Sysname)
             end,
    HasCache = DFlags band (?DFLAG_DIST_HDR_ATOM_CACHE bor ?DFLAG_FRAGMENTS) =/= 0,
    #{packet_size => PacketSize, dflags => DFlags, config => Config,
      sysname => Sysname, router => Router,
      cache => case HasCache of true -> #{}; false -> undefined end,
      seqs => #{}, sort => 0, buf => <<>>, stats => #{}}.

-spec stats(model()) -> #{atom() => #{atom() => non_neg_integer()}}.
stats(#{stats := S}) -> S.

-spec cache(model()) -> [{non_neg_integer(), atom()}] | undefined.
cache(#{cache := undefined}) -> undefined;
cache(#{cache := C}) -> lists:sort(maps:to_list(C)).

%% @doc Feed packets (bytes as read from the socket); returns the emitted
%% frames, the log events (only when DPI and logging are on) and the model.
-spec recv(model(), [binary()] | binary()) -> {[binary()], [log_event()], model()}.
recv(M, Bin) when is_binary(Bin) -> recv(M, [Bin]);
recv(M = #{buf := Buf0, packet_size := PS}, Packets) ->
    Buf = iolist_to_binary([Buf0 | Packets]),
    {Frames, Rest} = frames(Buf, PS),
    M1 = M#{buf := Rest},
    {M2, EmitsR, LogsR} = lists:foldl(fun(F, {Mx, E, L}) ->
                                              {E1, L1, My} = frame(Mx, F),
                                              {My, lists:reverse(E1, E), lists:reverse(L1, L)}
                                      end, {M1, [], []}, Frames),
    {lists:reverse(EmitsR), lists:reverse(LogsR), M2}.

frames(Buf, 0) -> {[Buf || Buf =/= <<>>], <<>>};
frames(Buf, PS) -> frames(Buf, PS * 8, []).

frames(Buf, Bits, Acc) ->
    case Buf of
        <<Len:Bits, F:Len/binary, Rest/binary>> -> frames(Rest, Bits, [F | Acc]);
        _ -> {lists:reverse(Acc), Buf}
    end.

%%--------------------------------------------------------------------
%% Frames
%%--------------------------------------------------------------------

frame(M, <<>>) ->
    {[], [], M};
frame(M = #{cache := undefined}, <<$p, 131, Rest0/binary>>) ->
    {Ctl, <<PayRest/binary>>} = edf_model_term:split(Rest0),
    Pay = case PayRest of
              <<>> -> none;
              <<131, P/binary>> -> P
          end,
    message(M, #{kind => pass, prefix => <<$p>>, header => <<>>, atoms => {},
                 ctl => Ctl, pay => Pay, frames => [<<$p, 131, Rest0/binary>>],
                 conflicts => []});
frame(M = #{cache := Cache0}, F = <<131, $D, Rest0/binary>>) when Cache0 =/= undefined ->
    {Table, Header, Rest1, Cache} = parse_header(Rest0, Cache0, M),
    {Ctl, PayBin} = edf_model_term:split(Rest1),
    message(M#{cache := Cache},
            #{kind => normal, prefix => <<131, $D>>, header => Header,
              table => Table, atoms => atoms(Table), ctl => Ctl,
              pay => pay(Ctl, Table, PayBin), frames => [F], conflicts => []});
frame(M = #{cache := Cache0, seqs := Seqs}, F = <<131, $E, Seq:64, N:64, Rest0/binary>>)
  when Cache0 =/= undefined, N >= 1, not is_map_key(Seq, Seqs) ->
    {Table, Header, Rest1, Cache} = parse_header(Rest0, Cache0, M),
    {Ctl, Slice} = edf_model_term:split(Rest1),
    M1 = M#{cache := Cache},
    Prefix = <<131, $E, Seq:64, 1:64>>,
    case N of
        1 ->
            message(M1, #{kind => normal, prefix => Prefix, header => Header,
                          table => Table, atoms => atoms(Table), ctl => Ctl,
                          pay => pay(Ctl, Table, Slice), frames => [F], conflicts => []});
        _ ->
            Inspect = cfg(M, deep_packet_inspection) orelse cfg(M, compact_fragments),
            %% Inspection alone: decided from the first fragment when it can be.
            Early = case cfg(M, deep_packet_inspection) andalso not cfg(M, compact_fragments) of
                        true -> first_fragment(M, Ctl, Table, Slice);
                        false -> hold
                    end,
            Held = Inspect andalso Early =:= hold,
            S = #{n => N, next => N - 1, header => Header, table => Table, ctl => Ctl,
                  slices => [Slice], frames => [F], held => Held,
                  discard => is_tuple(Early) andalso element(1, Early) =:= drop},
            M2 = M1#{seqs := Seqs#{Seq => S}},
            M3 = count(M2, dop(Ctl, Table), seen),
            HasNew = lists:any(fun({_, _, New}) -> New end, Table),
            Commit = [<<Prefix/binary, Header/binary, (edf_model_term:noop_utf8())/binary>> || HasNew],
            case Early of
                {drop, Dop, Log} ->
                    %% Replaced at once (commit, no-op); the rest is swallowed.
                    Noop = <<Prefix/binary, Header/binary, (edf_model_term:noop_small())/binary>>,
                    M4 = count(M3, Dop, drop),
                    {M5, Logs} = case Log of
                                     true ->
                                         {count(M4, Dop, log),
                                          [{maps:get(sysname, M), atoms(Table), <<131, Ctl/binary>>, undefined}
                                           || cfg(M, logging)]};
                                     false ->
                                         {M4, []}
                                 end,
                    {Commit ++ [Noop], Logs, M5};
                _ when Held ->
                    {Commit, [], M3};
                _ ->
                    {[F], [], M3}
            end
    end;
frame(M = #{seqs := Seqs}, F = <<131, $F, Seq:64, K:64, Bytes/binary>>) ->
    S = #{next := K, held := Held, discard := Discard} = maps:get(Seq, Seqs),
    S1 = S#{next := K - 1, slices := [Bytes | maps:get(slices, S)],
            frames := [F | maps:get(frames, S)]},
    case {K, Held} of
        _ when Discard, K =:= 1 ->
            {[], [], M#{seqs := maps:remove(Seq, Seqs)}};
        _ when Discard ->
            {[], [], M#{seqs := Seqs#{Seq => S1}}};
        {1, true} ->
            complete(M#{seqs := maps:remove(Seq, Seqs)}, Seq, S1);
        {1, false} ->
            M1 = M#{seqs := maps:remove(Seq, Seqs)},
            #{ctl := Ctl, table := Table} = S1,
            {[F], [], count(M1, dop(Ctl, Table), emit)};
        _ when Held ->
            {[], [], M#{seqs := Seqs#{Seq => S1}}};
        _ ->
            {[F], [], M#{seqs := Seqs#{Seq => S1}}}
    end;
frame(_M, F) ->
    erlang:error({model_bad_frame, binary:part(F, 0, min(20, byte_size(F)))}).

%% Inspection of a fragmented message from its first fragment (the NIF's
%% streaming decision): `{emit, Dop}' (its fragments pass as they arrive),
%% `{drop, Dop, Log}' (replaced at once, the rest swallowed) or `hold'
%% (decided when complete). Decided there: no payload, or one that is a
%% binary, bitstring or string whose head is there (the rules look only at
%% its type); then kept without a log event, or dropped with none or one
%% without payload. Any other payload is held, even one that would end in
%% the first fragment (OTP's never do: the NIF does not scan to find out).
first_fragment(M, Ctl, Table, Slice) ->
    Atoms = atoms(Table),
    Control = decode(Ctl, Atoms, normal),
    HasPay = element(3, edf_model_classify:control_spec(Control)),
    Payload = case HasPay of
                  false -> {ok, none};
                  true -> first_payload(Slice, Atoms)
              end,
    Logging = cfg(M, logging),
    Dop = element(1, Control),
    case Payload of
        hold ->
            hold;
        {ok, P} ->
            case edf_model_classify:classify(Control, P, maps:get(config, M)) of
                {emit, Log} when not (Log andalso Logging) -> {emit, Dop};
                {drop, Log} when not (Log andalso Logging); not HasPay -> {drop, Dop, Log};
                _ -> hold
            end
    end.

first_payload(<<T, _/binary>> = Slice, Atoms) when T =:= 109; T =:= 107; T =:= 77 ->
    leaf_payload(Slice, Atoms);
first_payload(_Slice, _Atoms) ->
    hold.

leaf_payload(Slice, Atoms) ->
    try
        {Term, _} = edf_model_term:split(Slice),
        {ok, decode(Term, Atoms, normal)}
    catch
        error:_ ->
            case Slice of
                <<109, _:32, _/binary>> -> {ok, <<>>};
                <<107, _:16, _/binary>> -> {ok, <<>>};
                <<77, 0:32, 0, _/binary>> -> {ok, <<>>};
                <<77, L:32, B, _/binary>> when L > 0, B >= 1, B =< 8 -> {ok, <<>>};
                _ -> hold
            end
    end.

%% A held fragmented message is complete: rewrite its header against the
%% current cache, then handle it as one message.
complete(M = #{cache := Cache}, Seq, #{n := N, header := Header0, table := Table,
                                      ctl := Ctl, slices := SlicesR, frames := FramesR}) ->
    Rows = [case maps:get(Slot, Cache) of
                A -> {A, Slot, New0, false};
                Cur -> {A, Slot, New0, {conflict, Cur}}
            end || {A, Slot, New0} <- Table],
    OldToNew = lists:any(fun({_, _, New0, C}) -> not New0 andalso C =/= false end, Rows),
    Conflict = lists:any(fun({_, _, _, C}) -> C =/= false end, Rows),
    NewToOld = lists:any(fun({_, _, New0, C}) -> New0 andalso C =:= false end, Rows),
    Header = case OldToNew orelse (Conflict andalso NewToOld) of
                 true ->
                     edf_model_encode:header([{A, Slot, C =/= false} || {A, Slot, _, C} <- Rows],
                                             maps:get(dflags, M));
                 false ->
                     Header0
             end,
    Conflicts = [{Cur, Slot, true} || {_, Slot, _, {conflict, Cur}} <- Rows],
    [First | Conts] = lists:reverse(FramesR),
    Pay = iolist_to_binary(lists:reverse(SlicesR)),
    HdrFrame = <<131, $E, Seq:64, N:64, Header/binary, Ctl/binary,
                 (lists:last(SlicesR))/binary>>,
    _ = First,
    Compact = cfg(M, compact_fragments),
    Frames = case Compact of
                 true -> [<<131, $E, Seq:64, 1:64, Header/binary, Ctl/binary, Pay/binary>>];
                 false -> [HdrFrame | Conts]
             end,
    HasPay = element(3, edf_model_classify:control_spec(decode(Ctl, atoms(Table), normal))),
    message(M, #{kind => held, prefix => <<131, $E, Seq:64, 1:64>>, header => Header,
                 table => Table, atoms => atoms(Table), ctl => Ctl,
                 pay => case HasPay of true -> Pay; false -> none end,
                 frames => Frames, conflicts => Conflicts, seen_counted => true}).

%%--------------------------------------------------------------------
%% One complete message
%%--------------------------------------------------------------------

message(M, Msg = #{kind := Kind, ctl := CtlBin, pay := PayBin, atoms := Atoms}) ->
    Control = decode(CtlBin, Atoms, Kind),
    Dop = element(1, Control),
    M0 = case maps:get(seen_counted, Msg, false) of
             true -> M;
             false -> count(M, Dop, seen)
         end,
    {Action, Log} =
        case cfg(M, deep_packet_inspection) of
            true ->
                Payload = case PayBin of
                              none -> none;
                              _ -> decode(PayBin, Atoms, Kind)
                          end,
                edf_model_classify:classify(Control, Payload, maps:get(config, M));
            false ->
                {emit, false}
        end,
    Logs = case Log andalso cfg(M, logging) of
               true ->
                   [{maps:get(sysname, M), Atoms, <<131, CtlBin/binary>>,
                     case PayBin of none -> undefined; _ -> <<131, PayBin/binary>> end}];
               false ->
                   []
           end,
    M1 = case Log of
             true -> count(M0, Dop, log);
             false -> M0
         end,
    {Out, M2} = outcome(Action, Control, M1, Msg),
    Rollback = case maps:get(conflicts, Msg) of
                   [] -> [];
                   Cs ->
                       RH = edf_model_encode:header(Cs, maps:get(dflags, M)),
                       [<<(maps:get(prefix, Msg))/binary, RH/binary,
                          (edf_model_term:noop_utf8())/binary>>]
               end,
    {Out ++ Rollback, Logs, M2}.

outcome(emit, Control, M, #{frames := Frames}) ->
    {Frames, count(M, element(1, Control), emit)};
outcome(drop, Control, M, #{kind := pass}) ->
    {[], count(M, element(1, Control), drop)};
outcome(drop, Control, M, #{prefix := Prefix, header := Header}) ->
    {[<<Prefix/binary, Header/binary, (edf_model_term:noop_small())/binary>>],
     count(M, element(1, Control), drop)};
outcome(redirect, Control, M = #{sort := Sort, sysname := Sys, router := Router}, Msg) ->
    #{ctl := CtlBin, pay := PayBin} = Msg,
    Token = case edf_model_classify:control_spec(Control) of
                {_, none, _} -> none;
                {_, Pos, _} -> lists:nth(Pos + 1, edf_model_term:tuple_elements(CtlBin))
            end,
    Pid = edf_model_term:dummy_pid_small(),
    RouterB = atom_bytes(Router, Msg),
    Ctl = case Token of
              none -> <<104, 4, 97, 6, Pid/binary, 119, 0, RouterB/binary>>;
              _ -> <<104, 5, 97, 16, Pid/binary, 119, 0, RouterB/binary, Token/binary>>
          end,
    Pay = case PayBin of
              none -> <<104, 3, (atom_bytes(Sys, Msg))/binary,
                        (edf_model_term:sort_int(Sort))/binary, CtlBin/binary>>;
              _ -> <<104, 4, (atom_bytes(Sys, Msg))/binary,
                     (edf_model_term:sort_int(Sort))/binary, CtlBin/binary, PayBin/binary>>
          end,
    Dop = element(1, Control),
    M1 = count(count(M#{sort := Sort + 1}, Dop, emit), Dop, redirect),
    {[rewritten(Msg, Ctl, Pay)], M1};
outcome(spawn, Control, M = #{sysname := Sys}, Msg = #{ctl := CtlBin, pay := PayBin}) ->
    Els = edf_model_term:tuple_elements(CtlBin),
    {Before, [MFA | After]} = lists:split(4, Els),
    EdfReq = <<104, 3, 119, 3, "edf", 119, 3, "req", 97, 3>>,
    Hd = tuple_head(CtlBin),
    Ctl = iolist_to_binary([Hd, Before, EdfReq, After]),
    Pay = iolist_to_binary([<<108, 3:32>>, atom_bytes(Sys, Msg), MFA, PayBin, 106]),
    Dop = element(1, Control),
    {[rewritten(Msg, Ctl, Pay)], count(count(M, Dop, emit), Dop, redirect)}.

tuple_head(<<104, A, _/binary>>) -> <<104, A>>;
tuple_head(<<105, A:32, _/binary>>) -> <<105, A:32>>.

rewritten(#{kind := pass}, Ctl, Pay) ->
    <<$p, 131, Ctl/binary, 131, Pay/binary>>;
rewritten(#{prefix := Prefix, header := Header}, Ctl, Pay) ->
    <<Prefix/binary, Header/binary, Ctl/binary, Pay/binary>>.

%% Sysname / router name: a reference into the message's own table when it
%% holds the atom (first index), else inline.
atom_bytes(A, #{kind := pass}) ->
    edf_model_term:atom_inline(A);
atom_bytes(A, #{table := Table}) ->
    case index_of(A, Table, 0) of
        none -> edf_model_term:atom_inline(A);
        Ix -> <<82, Ix>>
    end.

index_of(_, [], _) -> none;
index_of(A, [{A, _, _} | _], Ix) -> Ix;
index_of(A, [_ | T], Ix) -> index_of(A, T, Ix + 1).

%%--------------------------------------------------------------------
%% Helpers
%%--------------------------------------------------------------------

cfg(#{config := C}, K) -> maps:get(K, C).

count(M = #{stats := S}, Dop, Key) when is_integer(Dop) ->
    Name = edf_model_classify:dop_name(Dop),
    D = maps:get(Name, S, #{seen => 0, emit => 0, drop => 0, redirect => 0, log => 0}),
    M#{stats := S#{Name => maps:update_with(Key, fun(V) -> V + 1 end, D)}}.

dop(Ctl, Table) ->
    element(1, decode(Ctl, atoms(Table), normal)).

atoms(Table) -> list_to_tuple([A || {A, _, _} <- Table]).

decode(Bin, _Atoms, pass) -> binary_to_term(<<131, Bin/binary>>);
decode(Bin, Atoms, _) -> erts_debug:dist_ext_to_term(Atoms, <<131, Bin/binary>>).

pay(Ctl, Table, PayBin) ->
    case element(3, edf_model_classify:control_spec(decode(Ctl, atoms(Table), normal))) of
        true -> PayBin;
        false -> none
    end.

%% Parse an atom-cache header; returns the translation table
%% `[{Atom, Slot, IsNew}]' (internal-index order), the header's bytes, the
%% rest and the updated cache.
parse_header(<<0, Rest/binary>>, Cache, _M) ->
    {[], <<0>>, Rest, Cache};
parse_header(Bin = <<N, Rest0/binary>>, Cache0, #{dflags := DFlags}) ->
    FL = N div 2 + 1,
    <<FlagBytes:FL/binary, Rest1/binary>> = Rest0,
    Nib = fun(I) ->
                  B = binary:at(FlagBytes, I div 2),
                  case I rem 2 of 0 -> B band 15; 1 -> B bsr 4 end
          end,
    Long = Nib(N) band 1 =:= 1,
    Enc = case DFlags band ?DFLAG_UTF8_ATOMS of 0 -> latin1; _ -> utf8 end,
    {TableR, Rest, Cache} =
        lists:foldl(
          fun(I, {Acc, R, C}) ->
                  F = Nib(I),
                  <<Lo, R1/binary>> = R,
                  Slot = ((F band 7) bsl 8) bor Lo,
                  case F band 8 of
                      8 ->
                          {Text, R2} = case Long of
                                           true -> <<L:16, T:L/binary, Rx/binary>> = R1, {T, Rx};
                                           false -> <<L, T:L/binary, Rx/binary>> = R1, {T, Rx}
                                       end,
                          A = binary_to_atom(Text, Enc),
                          {[{A, Slot, true} | Acc], R2, C#{Slot => A}};
                      0 ->
                          A = maps:get(Slot, C),
                          {[{A, Slot, false} | Acc], R1, C}
                  end
          end, {[], Rest1, Cache0}, lists:seq(0, N - 1)),
    HL = byte_size(Bin) - byte_size(Rest),
    <<Header:HL/binary, _/binary>> = Bin,
    {lists:reverse(TableR), Header, Rest, Cache}.

%%--------------------------------------------------------------------
%% Receiver replay ("the VM")
%%--------------------------------------------------------------------

%% @doc Decode emitted frames in order with a fresh atom cache, as the VM
%% would; returns the delivered `{Control}' / `{Control, Payload}' messages
%% (no-ops included; filter them with `is_noop/1').
-spec replay(non_neg_integer(), [binary()]) -> [tuple()].
replay(DFlags, Frames) ->
    M0 = new(0, DFlags, #{sysname => replay, router => replay}),
    {Msgs, _} = lists:foldl(fun(F, {Acc, M}) -> {Out, M1} = vm_frame(M, F), {lists:reverse(Out, Acc), M1} end,
                            {[], M0#{vm => #{}}}, Frames),
    lists:reverse(Msgs).

vm_frame(M, <<$p, 131, Rest/binary>>) ->
    {Ctl, PayRest} = edf_model_term:split(Rest),
    C = decode(Ctl, {}, pass),
    case PayRest of
        <<>> -> {[{C}], M};
        <<131, P/binary>> -> {[{C, decode(P, {}, pass)}], M}
    end;
vm_frame(M = #{cache := Cache0}, <<131, $D, Rest0/binary>>) ->
    {Table, _, Rest1, Cache} = parse_header(Rest0, Cache0, M),
    {[vm_msg(Rest1, atoms(Table))], M#{cache := Cache}};
vm_frame(M = #{cache := Cache0, vm := VM}, <<131, $E, Seq:64, N:64, Rest0/binary>>) ->
    {Table, _, Rest1, Cache} = parse_header(Rest0, Cache0, M),
    case N of
        1 -> {[vm_msg(Rest1, atoms(Table))], M#{cache := Cache}};
        _ -> {[], M#{cache := Cache, vm := VM#{Seq => {atoms(Table), [Rest1]}}}}
    end;
vm_frame(M = #{vm := VM}, <<131, $F, Seq:64, K:64, Bytes/binary>>) ->
    {Atoms, Acc} = maps:get(Seq, VM),
    case K of
        1 -> {[vm_msg(iolist_to_binary(lists:reverse([Bytes | Acc])), Atoms)],
              M#{vm := maps:remove(Seq, VM)}};
        _ -> {[], M#{vm := VM#{Seq => {Atoms, [Bytes | Acc]}}}}
    end.

vm_msg(Bin, Atoms) ->
    {Ctl, Pay} = edf_model_term:split(Bin),
    C = decode(Ctl, Atoms, normal),
    case element(3, edf_model_classify:control_spec(C)) of
        false -> {C};
        true -> {C, decode(Pay, Atoms, normal)}
    end.

%% @doc Is this a no-op delivered by a drop / commit / rollback frame?
-spec is_noop(tuple()) -> boolean().
is_noop({{6, Pid, '', undefined}, []}) when is_pid(Pid) -> node(Pid) =:= '';
is_noop(_) -> false.

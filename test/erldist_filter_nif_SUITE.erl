%% @doc The NIF through its Erlang API: argument checks and error shapes,
%% ownership and lifecycle, corpus replay (frames and counters), zero copy,
%% bounded slices, malformed input, config/limits and world statistics.
%%
%% Run: `rebar3 ct --suite test/erldist_filter_nif_SUITE' (EDF_SHARED
%% points at the shared corpora; defaults to `<root>/../shared').
-module(erldist_filter_nif_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0]).
-export([groups/0]).
-export([init_per_suite/1]).
-export([end_per_suite/1]).
-export([init_per_group/2]).
-export([end_per_group/2]).
-export([init_per_testcase/2]).
-export([end_per_testcase/2]).

-export([open_badarg/1]).
-export([recv_badarg/1]).
-export([resource_badarg/1]).
-export([close_then_closed/1]).
-export([not_owner/1]).
-export([owner_death_closes/1]).
-export([controlling_process_transfer/1]).
-export([controlling_process_badarg/1]).
-export([tracing_process/1]).
-export([channel_list_order_and_filter/1]).
-export([inspect_shape/1]).
-export([malformed_frame_closes/1]).
-export([emit_is_subbinary/1]).
-export([recv_slice_is_bounded/1]).
-export([packet_size_zero/1]).
-export([config_round_trip/1]).
-export([config_errors/1]).
-export([limits_round_trip/1]).
-export([limits_errors/1]).
-export([limits_apply_to_channels/1]).
-export([world_stats_counts/1]).
-export([flags_version_router/1]).
-export([large_messages_finish_on_a_dirty_scheduler/1]).
-export([recorded_chunks/1]).
-export([one_packet_per_call/1]).
-export([chunks_64k/1]).
-export([whole_stream/1]).

-define(FLAGS, 16#D07DF7FBD).
-define(NIF, erldist_filter_nif).

all() ->
    [open_badarg, recv_badarg, resource_badarg, close_then_closed, not_owner,
     owner_death_closes, controlling_process_transfer, controlling_process_badarg,
     tracing_process, channel_list_order_and_filter, inspect_shape,
     malformed_frame_closes, emit_is_subbinary, recv_slice_is_bounded,
     packet_size_zero, config_round_trip, config_errors, limits_round_trip,
     limits_errors, limits_apply_to_channels, world_stats_counts,
     flags_version_router, large_messages_finish_on_a_dirty_scheduler,
     {group, small}, {group, 'small.rev'}, {group, large}, {group, 'large.rev'}].

%% A step that may finish a message over 1 MiB runs on a dirty scheduler;
%% ordinary traffic never does. Counted by tracing calls to the dirty NIF.
large_messages_finish_on_a_dirty_scheduler(_Config) ->
    Ch = ?NIF:channel_open(4, 'big@host', 1, 0, ?FLAGS),
    %% a 'D' frame: no atoms, control {2, '', Pid} (SEND), payload a 3 MiB binary
    Pid = term_to_binary(self()),
    <<131, PidExt/binary>> = Pid,
    Control = <<104, 3, 97, 2, 119, 0, PidExt/binary>>,
    Payload = <<109, (3 bsl 20):32, (binary:copy(<<7>>, 3 bsl 20))/binary>>,
    Frame = <<131, $D, 0, Control/binary, Payload/binary>>,
    Stream = <<(byte_size(Frame)):32, Frame/binary>>,
    1 = erlang:trace_pattern({?NIF, channel_recv_dirty_nif, 2}, true, [local, call_count]),
    Chunks = [binary:part(Stream, Off, min(65536, byte_size(Stream) - Off))
              || Off <- lists:seq(0, byte_size(Stream) - 1, 65536)],
    Emitted = lists:append([?NIF:channel_recv(Ch, [C]) || C <- Chunks]),
    ?assertEqual([{emit, Frame}], Emitted),
    {call_count, Dirty} = erlang:trace_info({?NIF, channel_recv_dirty_nif, 2}, call_count),
    %% the first 16 chunks (1 MiB) assemble on normal schedulers, the rest dirty
    ?assert(Dirty >= 30),
    1 = erlang:trace_pattern({?NIF, channel_recv_dirty_nif, 2}, false, [local, call_count]),
    1 = erlang:trace_pattern({?NIF, channel_recv_dirty_nif, 2}, true, [local, call_count]),
    Small = ?NIF:channel_open(4, 'small@host', 1, 0, ?FLAGS),
    [] = ?NIF:channel_recv(Small, [<<0:32>>, <<(byte_size(Control) + 3):32>>]),
    [{emit, _}] = ?NIF:channel_recv(Small, [<<131, $D, 0, Control/binary, 106>>]),
    {call_count, 0} = erlang:trace_info({?NIF, channel_recv_dirty_nif, 2}, call_count),
    _ = erlang:trace_pattern({?NIF, channel_recv_dirty_nif, 2}, false, [local, call_count]),
    ok = ?NIF:channel_close(Ch),
    ok = ?NIF:channel_close(Small).

groups() ->
    Replays = [recorded_chunks, one_packet_per_call, chunks_64k, whole_stream],
    [{Name, [], Replays} || Name <- [small, 'small.rev', large, 'large.rev']].

init_per_suite(Config) ->
    {module, ?NIF} = code:ensure_loaded(?NIF),
    [{edf_config0, ?NIF:config_get()}, {edf_limits0, ?NIF:limits_get()} | Config].

end_per_suite(Config) ->
    restore(Config),
    ok.

%% The corpus is kept in a persistent term, not in Config: Common Test
%% prints Config into every test case's log, which takes ~30 s for 15 MB.
init_per_group(Name, Config) ->
    persistent_term:put({?MODULE, corpus}, edf_corpus:load(atom_to_list(Name))),
    [{corpus_name, Name} | Config].

end_per_group(_Name, _Config) ->
    _ = persistent_term:erase({?MODULE, corpus}),
    ok.

corpus(Config) ->
    Corpus = #{name := Name} = persistent_term:get({?MODULE, corpus}),
    Name = atom_to_list(?config(corpus_name, Config)),
    Corpus.

init_per_testcase(_Case, Config) ->
    restore(Config),
    Config.

end_per_testcase(_Case, Config) ->
    restore(Config),
    [catching(fun() -> ?NIF:channel_close(C) end) || C <- ?NIF:channel_list()],
    ok.

restore(Config) ->
    ok = ?NIF:config_set(maps:map(fun(_, _) -> false end, ?config(edf_config0, Config))),
    ok = ?NIF:limits_set(?config(edf_limits0, Config)).

%%--------------------------------------------------------------------
%% Arguments, ownership, lifecycle
%%--------------------------------------------------------------------

open_badarg(_Config) ->
    Good = [4, 'a@127.0.0.1', 1, 2, ?FLAGS],
    Bad = [{1, [3, 5, 16, -1, foo, 4.0, <<>>]},
           {2, ["a@b", <<"a@b">>, 1, self()]},
           {3, [-1, 1 bsl 32, foo, 1.0]},
           {4, [-1, 1 bsl 32, bar, []]},
           {5, [0, 16#1, 16#2, -1, 1 bsl 64, foo]}],
    [?assertError(badarg, apply(?NIF, channel_open, setelement_list(Pos, Good, V)), {Pos, V})
     || {Pos, Vs} <- Bad, V <- Vs],
    %% DFlags must share at least one bit with the mandatory set: any bit.
    [begin
         C = apply(?NIF, channel_open, setelement_list(5, Good, F)),
         ok = ?NIF:channel_close(C)
     end || F <- [16#4, 16#1070F94, ?FLAGS, (1 bsl 64) - 1]],
    [begin
         C = ?NIF:channel_open(P, 'a@127.0.0.1', (1 bsl 32) - 1, 0, ?FLAGS),
         ok = ?NIF:channel_close(C)
     end || P <- [0, 1, 2, 4, 8]],
    ok.

setelement_list(Pos, List, V) ->
    tuple_to_list(setelement(Pos, list_to_tuple(List), V)).

recv_badarg(_Config) ->
    C = open(),
    Bad = [foo, 1, [1], [<<>> | <<>>], [[<<>>]], [<<1:1>>], <<1:1>>, [<<>>, foo], "abc",
           {<<>>}],
    [?assertError(badarg, ?NIF:channel_recv(C, B), B) || B <- Bad],
    %% A bad argument does not close the channel.
    ?assertEqual([], ?NIF:channel_recv(C, [<<0, 0, 0, 0>>, <<>>])),
    ?assertEqual([], ?NIF:channel_recv(C, [])),
    ?assertEqual([], ?NIF:channel_recv(C, <<>>)),
    ok = ?NIF:channel_close(C).

resource_badarg(_Config) ->
    NotChannels = [make_ref(), foo, self(), <<>>, 1],
    Pid = self(),
    Calls = [fun(X) -> ?NIF:channel_close(X) end,
             fun(X) -> ?NIF:channel_recv(X, <<>>) end,
             fun(X) -> ?NIF:channel_recv_nif(X, <<>>) end,
             fun(X) -> ?NIF:channel_inspect(X) end,
             fun(X) -> ?NIF:channel_set_controlling_process(X, Pid) end,
             fun(X) -> ?NIF:channel_set_tracing_process(X, Pid) end],
    [?assertError(badarg, F(X), X) || F <- Calls, X <- NotChannels],
    [?assertError(badarg, ?NIF:channel_list(X), X) || X <- ["a", 1, <<"a">>]],
    ok.

close_then_closed(_Config) ->
    C = open(),
    ok = ?NIF:channel_close(C),
    {error, closed} = ?NIF:channel_close(C),
    {error, closed} = ?NIF:channel_recv(C, <<0, 0, 0, 0>>),
    {error, closed} = ?NIF:channel_inspect(C),
    {error, closed} = ?NIF:channel_set_controlling_process(C, self()),
    {error, closed} = ?NIF:channel_set_tracing_process(C, self()),
    false = lists:member(C, ?NIF:channel_list()),
    %% Argument errors still come first.
    ?assertError(badarg, ?NIF:channel_recv(C, foo)),
    ok.

not_owner(_Config) ->
    C = open(),
    Self = self(),
    Results = in_other_process(
                fun() ->
                        {?NIF:channel_recv(C, <<0, 0, 0, 0>>),
                         ?NIF:channel_close(C),
                         ?NIF:channel_set_controlling_process(C, self()),
                         ?NIF:channel_set_tracing_process(C, self()),
                         maps:get(controlling_process, ?NIF:channel_inspect(C)),
                         lists:member(C, ?NIF:channel_list())}
                end),
    ?assertEqual({{error, not_owner}, {error, not_owner}, {error, not_owner},
                  {error, not_owner}, Self, true}, Results),
    %% Nothing happened to the channel.
    #{rx := #{stats := #{packet_count := 0}}} = ?NIF:channel_inspect(C),
    ok = ?NIF:channel_close(C).

owner_death_closes(_Config) ->
    Before = destroyed(),
    Parent = self(),
    {Owner, MRef} = spawn_monitor(
                      fun() ->
                              C = open(),
                              Parent ! {channel, self(), C},
                              receive stop -> ok end
                      end),
    C = receive {channel, Owner, Ch} -> Ch end,
    true = lists:member(C, ?NIF:channel_list()),
    #{controlling_process := Owner} = ?NIF:channel_inspect(C),
    Owner ! stop,
    receive {'DOWN', MRef, process, Owner, normal} -> ok end,
    %% The NIF's monitor fires during the owner's exit, not necessarily
    %% before our 'DOWN' arrives: wait for it (bounded).
    ok = wait_until(fun() -> ?NIF:channel_inspect(C) =:= {error, closed} end),
    false = lists:member(C, ?NIF:channel_list()),
    ?assertEqual(Before + 1, destroyed()),
    ok.

controlling_process_transfer(_Config) ->
    C = open(),
    ok = ?NIF:channel_set_controlling_process(C, self()),
    {Pid, MRef} = spawn_monitor(fun server/0),
    ok = ?NIF:channel_set_controlling_process(C, Pid),
    #{controlling_process := Pid} = ?NIF:channel_inspect(C),
    {error, not_owner} = ?NIF:channel_recv(C, <<0, 0, 0, 0>>),
    {error, not_owner} = ?NIF:channel_close(C),
    {error, not_owner} = ?NIF:channel_set_controlling_process(C, self()),
    [] = call(Pid, fun() -> ?NIF:channel_recv(C, <<0, 0, 0, 0>>) end),
    #{rx := #{stats := #{packet_count := 1}}} = ?NIF:channel_inspect(C),
    %% Our old monitor is gone: the old owner's death would not matter,
    %% the new owner's does.
    exit(Pid, kill),
    receive {'DOWN', MRef, process, Pid, killed} -> ok end,
    ok = wait_until(fun() -> ?NIF:channel_inspect(C) =:= {error, closed} end),
    false = lists:member(C, ?NIF:channel_list()),
    ok.

controlling_process_badarg(_Config) ->
    C = open(),
    {Dead, MRef} = spawn_monitor(fun() -> ok end),
    receive {'DOWN', MRef, process, Dead, _} -> ok end,
    Remote = binary_to_term(<<131, 88, 100, 0, 10, "other@host", 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1>>),
    false = (node(Remote) =:= node()),
    [?assertError(badarg, ?NIF:channel_set_controlling_process(C, X), X)
     || X <- [Dead, Remote, foo, make_ref(), 1]],
    [?assertError(badarg, ?NIF:channel_set_tracing_process(C, X), X)
     || X <- [Dead, Remote, foo]],
    #{controlling_process := Self} = ?NIF:channel_inspect(C),
    Self = self(),
    ok = ?NIF:channel_close(C).

tracing_process(_Config) ->
    C = open(),
    #{tracing_process := undefined} = ?NIF:channel_inspect(C),
    {Tracer, MRef} = spawn_monitor(fun server/0),
    ok = ?NIF:channel_set_tracing_process(C, Tracer),
    ok = ?NIF:channel_set_tracing_process(C, Tracer),
    Self = self(),
    %% The C NIF bug: this used to transfer ownership. It must not.
    #{tracing_process := Tracer, controlling_process := Self} = ?NIF:channel_inspect(C),
    [] = ?NIF:channel_recv(C, <<0, 0, 0, 0>>),
    exit(Tracer, kill),
    receive {'DOWN', MRef, process, Tracer, killed} -> ok end,
    ok = wait_until(fun() -> maps:get(tracing_process, ?NIF:channel_inspect(C)) =:= undefined end),
    %% The tracer's death does not close the channel.
    [] = ?NIF:channel_recv(C, <<0, 0, 0, 0>>),
    ok = ?NIF:channel_close(C).

channel_list_order_and_filter(_Config) ->
    Others = ?NIF:channel_list(),
    A1 = ?NIF:channel_open(4, 'a@h', 1, 1, ?FLAGS),
    B1 = ?NIF:channel_open(4, 'b@h', 1, 2, ?FLAGS),
    A2 = ?NIF:channel_open(4, 'a@h', 2, 3, ?FLAGS),
    ?assertEqual(Others ++ [A1, B1, A2], ?NIF:channel_list()),
    [A1, A2] = ?NIF:channel_list('a@h'),
    [B1] = ?NIF:channel_list('b@h'),
    [] = ?NIF:channel_list('c@h'),
    ok = ?NIF:channel_close(B1),
    ?assertEqual(Others ++ [A1, A2], ?NIF:channel_list()),
    ok = ?NIF:channel_close(A1),
    ?assertEqual(Others ++ [A2], ?NIF:channel_list()),
    ok = ?NIF:channel_close(A2),
    ?assertEqual(Others, ?NIF:channel_list()),
    ok.

inspect_shape(_Config) ->
    C = ?NIF:channel_open(4, 'x@127.0.0.1', 7, 9, ?FLAGS),
    Self = self(),
    #{controlling_process := Self,
      tracing_process := undefined,
      entry := #{connection_id := 9, creation := 7, dflags := ?FLAGS, sysname := 'x@127.0.0.1'},
      rx := #{atom_cache := AtomCache, ioq_size := 0, packet_size := 4, stats := Stats,
              vec_capacity := 0, vec_len := 0, buffered_bytes := 0}} = ?NIF:channel_inspect(C),
    true = is_list(AtomCache) orelse AtomCache =:= undefined,
    check_stats_map(Stats),
    %% A partial packet is visible.
    [] = ?NIF:channel_recv(C, <<0, 0, 0, 10, 131, 68>>),
    #{rx := #{vec_len := Len, vec_capacity := Cap}} = ?NIF:channel_inspect(C),
    ct:log("partial packet: vec_len ~p vec_capacity ~p", [Len, Cap]),
    %% Any process may inspect.
    #{controlling_process := Self} = in_other_process(fun() -> ?NIF:channel_inspect(C) end),
    ok = ?NIF:channel_close(C).

check_stats_map(Stats) ->
    Scalars = [packet_count, emit_count, drop_count, dist_header_count, dist_frag_header_count,
               dist_frag_cont_count, dist_pass_through_count, dist_tick_count,
               atom_cache_read_count, atom_cache_write_count, atom_cache_overwrite_count,
               rewrite_fragment_header_count, rollback_atom_cache_count, compact_external_count,
               compact_fragment_count, control_has_export_ext, control_has_new_fun_ext,
               payload_has_export_ext, payload_has_new_fun_ext, fastpath, slowpath],
    Dops = [link, send, exit, unlink, reg_send, group_leader, exit2, send_tt, exit_tt,
            reg_send_tt, exit2_tt, monitor_p, demonitor_p, monitor_p_exit, send_sender,
            send_sender_tt, payload_exit, payload_exit_tt, payload_exit2, payload_exit2_tt,
            payload_monitor_p_exit, spawn_request, spawn_request_tt, spawn_reply,
            spawn_reply_tt, alias_send, alias_send_tt, unlink_id, unlink_id_ack,
            altact_sig_send],
    [true = is_integer(maps:get(K, Stats)) andalso maps:get(K, Stats) >= 0 || K <- Scalars],
    [#{seen := _, emit := _, drop := _, redirect := _, log := _} =
         maps:get(list_to_atom("dop_" ++ atom_to_list(D)), Stats) || D <- Dops],
    ok.

%%--------------------------------------------------------------------
%% Data path
%%--------------------------------------------------------------------

malformed_frame_closes(_Config) ->
    Before = destroyed(),
    Bad = [<<0, 0, 0, 3, 1, 2, 3>>,              % not a dist header
           <<0, 0, 0, 1, 131>>,                  % too short
           <<0, 0, 0, 2, 131, $Z>>],             % unknown frame tag
    [begin
         C = open(),
         try ?NIF:channel_recv(C, B) of
             Other -> ct:fail({no_exception, B, Other})
         catch
             error:{erldist_filter, Kind, #{offset := Off, limit := false, message := Msg}} ->
                 ct:log("~w -> ~p at ~p: ~s", [B, Kind, Off, Msg]),
                 true = is_atom(Kind) andalso is_integer(Off) andalso is_binary(Msg)
         end,
         {error, closed} = ?NIF:channel_recv(C, <<0, 0, 0, 0>>),
         {error, closed} = ?NIF:channel_inspect(C),
         false = lists:member(C, ?NIF:channel_list())
     end || B <- Bad],
    ?assertEqual(Before + length(Bad), destroyed()),
    %% The VM and the NIF are fine.
    C2 = open(),
    [] = ?NIF:channel_recv(C2, <<0, 0, 0, 0>>),
    ok = ?NIF:channel_close(C2).

emit_is_subbinary(_Config) ->
    #{bin := Bin} = Corpus = edf_corpus:load("small"),
    %% A standalone (refc) input binary of 64 KiB.
    Input = binary:copy(binary:part(Bin, 0, 65536)),
    C = edf_corpus:open(Corpus),
    Actions = ?NIF:channel_recv(C, Input),
    Frames = [F || {emit, F} <- Actions],
    true = length(Frames) > 100,
    %% From OTP 27 the VM copies sub-binaries of 64 bytes or less into the
    %% process heap (cheaper than a reference); larger ones must still
    %% point into the input.
    SmallCopied = list_to_integer(erlang:system_info(otp_release)) >= 27,
    Large = [F || F <- Frames, not (SmallCopied andalso byte_size(F) =< 64)],
    true = length(Large) > 10,
    [?assertEqual(65536, binary:referenced_byte_size(F), byte_size(F)) || F <- Large],
    ok = ?NIF:channel_close(C).

recv_slice_is_bounded(_Config) ->
    #{bin := Bin} = Corpus = edf_corpus:load("small"),
    Input = binary:part(Bin, 0, 1 bsl 20),
    C = edf_corpus:open(Corpus),
    %% One NIF call must not take a megabyte at once.
    {more, Actions, Rest} = ?NIF:channel_recv_nif(C, [Input]),
    true = is_list(Actions) andalso is_list(Rest),
    RestSize = iolist_size(Rest),
    true = RestSize > 0 andalso RestSize < byte_size(Input),
    %% The Erlang loop finishes it, in order.
    More = ?NIF:channel_recv(C, Rest),
    Frames = [F || {emit, F} <- Actions ++ More],
    Expected = edf_corpus:frames(binary:part(Bin, 0, complete_prefix(Input))),
    same_frames(Expected, Frames),
    ok = ?NIF:channel_close(C).

%% Bytes of the complete packets at the start of Bin.
complete_prefix(Bin) ->
    complete_prefix(Bin, 0).

complete_prefix(<<Len:32, _:Len/binary, Rest/binary>>, N) ->
    complete_prefix(Rest, N + 4 + Len);
complete_prefix(_, N) ->
    N.

packet_size_zero(_Config) ->
    #{bin := Bin} = Corpus = edf_corpus:load("small"),
    Packets = lists:sublist(edf_corpus:packets(Bin), 2000),
    C = edf_corpus:open(Corpus, 0),
    %% One frame per call; every other frame arrives split in two binaries.
    Inputs = [case {I rem 2, P} of
                  {0, <<A:1/binary, B/binary>>} -> [A, B];
                  _ -> P
              end || {I, P} <- lists:enumerate(Packets)],
    Frames = edf_corpus:replay(C, Inputs),
    same_frames([P || P <- Packets, P =/= <<>>], Frames),
    #{rx := #{stats := #{packet_count := PC}}} = ?NIF:channel_inspect(C),
    ?assertEqual(length(Packets), PC),
    ok = ?NIF:channel_close(C).

%%--------------------------------------------------------------------
%% Config, limits, world stats, misc
%%--------------------------------------------------------------------

config_round_trip(_Config) ->
    Keys = [compact_fragments, deep_packet_inspection, logging, otp_name_blocklist,
            redirect_dist_operations, untrusted],
    All = ?NIF:config_get(),
    ?assertEqual(Keys, lists:sort(maps:keys(All))),
    [false = ?NIF:config_get(K) || K <- Keys],
    [begin
         ok = ?NIF:config_set(K, true),
         true = ?NIF:config_get(K),
         ?assertEqual(All#{K := true}, ?NIF:config_get()),
         ok = ?NIF:config_set(K, false),
         false = ?NIF:config_get(K)
     end || K <- Keys],
    ok = ?NIF:config_set(#{logging => true, untrusted => true}),
    #{logging := true, untrusted := true, deep_packet_inspection := false} = ?NIF:config_get(),
    ok = ?NIF:config_set(#{}),
    ok.

config_errors(_Config) ->
    [?assertError(badarg, ?NIF:config_get(K), K) || K <- [nope, "logging", <<"logging">>, 1]],
    [?assertError(badarg, ?NIF:config_set(K, V), {K, V})
     || {K, V} <- [{nope, true}, {logging, 1}, {logging, yes}, {"logging", true}, {logging, "true"}]],
    ?assertError(badarg, ?NIF:config_set([{logging, true}])),
    %% Pairs apply in order; the first bad one raises, earlier ones stay.
    ?assertError(badarg, ?NIF:config_set(#{logging => true, nope => true})),
    true = ?NIF:config_get(logging),
    ok.

limits_round_trip(_Config) ->
    Policies = [atom_policy, rate_policy],
    Keys = [atom_policy, max_atom_bytes, max_buffered_bytes, max_bytes_per_sec, max_fragments,
            max_log_bytes, max_message_bytes, max_messages_per_sec, max_new_atoms,
            max_new_atoms_total, max_packet_len,
            max_sequences, rate_policy],
    All = ?NIF:limits_get(),
    ?assertEqual(Keys, lists:sort(maps:keys(All))),
    [true = is_integer(V) andalso V >= 0 || V <- maps:values(maps:without(Policies, All))],
    [begin
         ?assertEqual(close, ?NIF:limits_get(P)),
         ok = ?NIF:limits_set(P, drop),
         ?assertEqual(drop, ?NIF:limits_get(P)),
         ?assertError(badarg, ?NIF:limits_set(P, perhaps)),
         ok = ?NIF:limits_set(P, close)
     end || P <- Policies],
    ?assertError(badarg, ?NIF:limits_set(max_packet_len, drop)),
    [begin
         V0 = ?NIF:limits_get(K),
         ok = ?NIF:limits_set(K, 12345),
         12345 = ?NIF:limits_get(K),
         ?assertEqual(All#{K := 12345}, ?NIF:limits_get()),
         ok = ?NIF:limits_set(K, (1 bsl 64) - 1),
         ok = ?NIF:limits_set(K, 0),
         ok = ?NIF:limits_set(K, V0)
     end || K <- Keys -- Policies],
    ok = ?NIF:limits_set(#{max_sequences => 7, max_fragments => 9}),
    #{max_sequences := 7, max_fragments := 9} = ?NIF:limits_get(),
    ok.

limits_errors(_Config) ->
    [?assertError(badarg, ?NIF:limits_get(K), K) || K <- [nope, "max_packet_len", 1]],
    [?assertError(badarg, ?NIF:limits_set(K, V), {K, V})
     || {K, V} <- [{nope, 1}, {max_packet_len, -1}, {max_packet_len, 1 bsl 64},
                   {max_packet_len, 1.0}, {max_packet_len, true}, {"max_packet_len", 1}]],
    ?assertError(badarg, ?NIF:limits_set(foo)),
    ok.

limits_apply_to_channels(_Config) ->
    Big = <<0, 0, 0, 100, 131, 68, 0:(98 * 8)>>,
    %% Applied at open.
    ok = ?NIF:limits_set(max_packet_len, 50),
    C1 = open(),
    expect_limit(max_packet_len, fun() -> ?NIF:channel_recv(C1, Big) end),
    {error, closed} = ?NIF:channel_inspect(C1),
    %% Applied to an open channel at its next recv.
    ok = ?NIF:limits_set(max_packet_len, 1 bsl 20),
    C2 = open(),
    [] = ?NIF:channel_recv(C2, <<0, 0, 0, 0>>),
    ok = ?NIF:limits_set(max_packet_len, 50),
    expect_limit(max_packet_len, fun() -> ?NIF:channel_recv(C2, Big) end),
    ok.

expect_limit(Kind, Fun) ->
    try Fun() of
        Other -> ct:fail({no_limit_error, Kind, Other})
    catch
        error:{erldist_filter, Kind, #{limit := true}} -> ok
    end.

world_stats_counts(_Config) ->
    #{channel := #{create := C0, destroy := D0, rx_stats := #{packet_count := P0}},
      memory := Memory, slots := _} = ?NIF:world_stats_get(),
    14 = map_size(Memory),
    check_stats_map(maps:get(rx_stats, maps:get(channel, ?NIF:world_stats_get()))),
    Tick = <<0, 0, 0, 0>>,
    A = open(),
    [] = ?NIF:channel_recv(A, [Tick, Tick, Tick]),
    B = open(),
    [] = ?NIF:channel_recv(B, [Tick, Tick]),
    %% Live channels count.
    #{channel := #{create := C1, destroy := D0, rx_stats := #{packet_count := P1}}} =
        ?NIF:world_stats_get(),
    ?assertEqual({C0 + 2, P0 + 5}, {C1, P1}),
    %% Destroyed channels keep counting, once.
    ok = ?NIF:channel_close(A),
    _ = catching(fun() -> ?NIF:channel_recv(B, [Tick, <<0, 0, 0, 1, 0>>]) end),
    {error, closed} = ?NIF:channel_inspect(B),
    #{channel := #{create := C2, destroy := D2, rx_stats := #{packet_count := P2}}} =
        ?NIF:world_stats_get(),
    ?assertEqual({C0 + 2, D0 + 2}, {C2, D2}),
    true = P2 >= P0 + 6,
    ok.

flags_version_router(_Config) ->
    Flags = ?NIF:distribution_flags(),
    16#1070F94 = maps:get('DFLAG_DIST_MANDATORY', Flags),
    16#D07DF7FBC = maps:get('DFLAG_DIST_DEFAULT', Flags),
    16#2000 = maps:get('DFLAG_DIST_HDR_ATOM_CACHE', Flags),
    #{'ERTS_DIST_SPAWN_FLAG_LINK' := 1, 'ERTS_DIST_SPAWN_FLAG_MONITOR' := 2} = ?NIF:spawn_flags(),
    5 = map_size(?NIF:altact_sig_flags()),
    V = ?NIF:version(),
    true = is_integer(V) andalso V > 20230000000000 andalso V < 30000000000000,
    #{count := Count, limit := 1024, names := Names} = ?NIF:router_info(),
    Count = length(Names),
    true = Count >= 1 andalso Count =< 1024,
    [erldist_filter_router_1 | _] = Names,
    Nodes = ['a@127.0.0.1', 'b@127.0.0.1', 'ä@höst', nonode@nohost, 'élan@x', '日本@x'],
    [begin
         R = ?NIF:router_name(N),
         true = lists:member(R, Names),
         R = ?NIF:router_name(N)
     end || N <- Nodes],
    [?assertError(badarg, ?NIF:router_name(X), X) || X <- ["a@b", 1, <<"a">>, self()]],
    ok.

%%--------------------------------------------------------------------
%% Corpus replay (groups: one per corpus)
%%--------------------------------------------------------------------

recorded_chunks(Config) ->
    #{bin := Bin, chunk_sizes := Sizes} = Corpus = corpus(Config),
    replay_and_check(Corpus, edf_corpus:recorded_chunks(Bin, Sizes)).

one_packet_per_call(Config) ->
    #{bin := Bin} = Corpus = corpus(Config),
    replay_and_check(Corpus, edf_corpus:packet_chunks(Bin)).

chunks_64k(Config) ->
    #{bin := Bin} = Corpus = corpus(Config),
    replay_and_check(Corpus, edf_corpus:fixed_chunks(Bin, 65536)).

whole_stream(Config) ->
    #{bin := Bin} = Corpus = corpus(Config),
    replay_and_check(Corpus, [[Bin]]).

replay_and_check(#{bin := Bin, meta := Meta} = Corpus, Chunks) ->
    C = edf_corpus:open(Corpus),
    Frames = edf_corpus:replay(C, Chunks),
    same_frames(edf_corpus:frames(Bin), Frames),
    #{rx := #{stats := Stats, vec_len := 0, buffered_bytes := 0}} = ?NIF:channel_inspect(C),
    #{summary := Summary} = Meta,
    #{packets := Packets, ticks := Ticks, dist_header := Hdr, dist_frag_header := FragHdr,
      dist_frag_cont := FragCont, dops := Dops} = Summary,
    Got = maps:with([packet_count, dist_tick_count, dist_header_count, dist_frag_header_count,
                     dist_frag_cont_count], Stats),
    ?assertEqual(#{packet_count => Packets, dist_tick_count => Ticks, dist_header_count => Hdr,
                   dist_frag_header_count => FragHdr, dist_frag_cont_count => FragCont}, Got),
    SeenDops = maps:from_list(
                 [{list_to_atom(lists:nthtail(4, atom_to_list(K))), Seen}
                  || {K, #{seen := Seen}} <- maps:to_list(Stats),
                     lists:prefix("dop_", atom_to_list(K)), Seen > 0]),
    ?assertEqual(Dops, SeenDops),
    ok = ?NIF:channel_close(C).

%% The emitted frames are the packets, in order (reports the first
%% difference instead of two huge lists).
same_frames(Expected, Got) when length(Expected) =/= length(Got) ->
    ct:fail({frame_count, {expected, length(Expected)}, {got, length(Got)},
             first_difference(Expected, Got, 1)});
same_frames(Expected, Got) ->
    case Expected =:= Got of
        true -> ok;
        false -> ct:fail({frames_differ, first_difference(Expected, Got, 1)})
    end.

first_difference([X | Xs], [X | Ys], N) -> first_difference(Xs, Ys, N + 1);
first_difference([X | _], [Y | _], N) -> {index, N, {expected, trim(X)}, {got, trim(Y)}};
first_difference([], [], _) -> none;
first_difference(Xs, Ys, N) -> {index, N, {expected_left, length(Xs)}, {got_left, length(Ys)}}.

trim(B) when byte_size(B) > 64 -> {binary:part(B, 0, 64), '...', byte_size(B)};
trim(B) -> B.

%%--------------------------------------------------------------------
%% Helpers
%%--------------------------------------------------------------------

open() ->
    ?NIF:channel_open(4, 'peer@127.0.0.1', 1, 1, ?FLAGS).

destroyed() ->
    #{channel := #{destroy := D}} = ?NIF:world_stats_get(),
    D.

%% Run Fun in a fresh process and return its result (or re-raise).
in_other_process(Fun) ->
    {Pid, MRef} = spawn_monitor(fun() -> exit({result, catching(Fun)}) end),
    receive {'DOWN', MRef, process, Pid, {result, R}} -> R end.

%% Fun's result, or what it raised in the shape `catch Fun()' gives
%% (`catch' itself is deprecated from OTP 29).
catching(Fun) ->
    try Fun()
    catch
        throw:Thrown -> Thrown;
        error:Reason:Stack -> {'EXIT', {Reason, Stack}};
        exit:Reason -> {'EXIT', Reason}
    end.

%% A process that runs funs for us until killed.
server() ->
    receive
        {call, From, Ref, Fun} ->
            From ! {Ref, catching(Fun)},
            server()
    end.

call(Pid, Fun) ->
    Ref = make_ref(),
    Pid ! {call, self(), Ref, Fun},
    receive {Ref, R} -> R end.

%% Poll Pred until true, for at most ~5 s. Used only where the VM gives no
%% ordering guarantee (a NIF resource monitor fires during the monitored
%% process' exit, unordered with respect to other monitors' 'DOWN').
wait_until(Pred) ->
    wait_until(Pred, 5000).

wait_until(Pred, Left) ->
    case Pred() of
        true -> ok;
        false when Left =< 0 -> {timeout, Pred()};
        false ->
            receive after 1 -> ok end,
            wait_until(Pred, Left - 1)
    end.

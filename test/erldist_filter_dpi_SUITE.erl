%% @doc The NIF's byte-level behaviour against the Erlang model (SPEC §10.3):
%% every traffic class × header mode × {drop, redirect}, with DPI + logging +
%% blocklist on (compaction off and on), plus DPI off. Packets are built
%% with `edf_model_encode', expectations come from `edf_model_channel'; the
%% emitted bytes must be equal when all packets go in one call and when
%% they go one per call, and the per-DOP counters must agree.
-module(erldist_filter_dpi_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, groups/0, init_per_suite/1, end_per_suite/1,
         init_per_group/2, end_per_group/2, init_per_testcase/2, end_per_testcase/2]).
-export([model_self_check/1]).
-export([class_exit/1, class_exit2/1, class_group_leader/1, class_link/1,
         class_monitor_related/1, class_send_to_alias/1, class_send_to_name/1,
         class_send_to_pid/1, class_spawn_reply/1, class_spawn_request/1,
         class_unlink/1, class_structural_shapes/1]).

-define(DFLAGS_CACHE, (16#D07DF7FBC bor 16#2)).
-define(DFLAGS_MANDATORY, 16#1070F94).
all() ->
    [model_self_check, {group, dpi_off}, {group, dpi_compact_off}, {group, dpi_compact_on},
     {group, dpi_untrusted}].

groups() ->
    Modes = [{group, G} || G <- mode_groups()],
    Cases = [list_to_atom("class_" ++ atom_to_list(C)) || C <- edf_model_fixtures:classes()],
    [{dpi_off, [], Modes}, {dpi_compact_off, [], Modes}, {dpi_compact_on, [], Modes},
     {dpi_untrusted, [], Modes}]
        ++ [{G, [], Cases} || G <- mode_groups()].

mode_groups() ->
    [normal_drop, normal_redirect, fragment_drop, fragment_redirect,
     pass_through_drop, pass_through_redirect].

init_per_suite(Config) ->
    {module, _} = code:ensure_loaded(erldist_filter_nif),
    edf_test_switches:all_off(),
    Config.

end_per_suite(_Config) ->
    edf_test_switches:all_off(),
    ok.

init_per_group(dpi_off, Config) ->
    [{edf, #{}} | Config];
init_per_group(dpi_compact_off, Config) ->
    [{edf, dpi_on(false)} | Config];
init_per_group(dpi_compact_on, Config) ->
    [{edf, dpi_on(true)} | Config];
init_per_group(dpi_untrusted, Config) ->
    [{edf, (dpi_on(false))#{untrusted => true}} | Config];
init_per_group(G, Config) ->
    [ModeS, OutS] = string:split(atom_to_list(G), "_", trailing),
    {Mode, DFlags} = case ModeS of
                         "normal" -> {normal, ?DFLAGS_CACHE};
                         "fragment" -> {{fragment, 127}, ?DFLAGS_CACHE};
                         "pass_through" -> {pass_through, ?DFLAGS_MANDATORY}
                     end,
    Edf = proplists:get_value(edf, Config),
    Edf1 = case OutS of
               "redirect" -> Edf#{redirect_dist_operations => true};
               "drop" -> Edf
           end,
    [{edf, Edf1}, {mode, Mode}, {dflags, DFlags} | proplists:delete(edf, Config)].

end_per_group(_, _Config) ->
    ok.

dpi_on(Compact) ->
    #{deep_packet_inspection => true, logging => true, otp_name_blocklist => true,
      compact_fragments => Compact}.

init_per_testcase(_, Config) ->
    edf_test_switches:all_off(),
    Config.

end_per_testcase(_, _Config) ->
    edf_test_switches:all_off(),
    ok.

class_exit(C) -> run_class(exit, C).
class_exit2(C) -> run_class(exit2, C).
class_group_leader(C) -> run_class(group_leader, C).
class_link(C) -> run_class(link, C).
class_monitor_related(C) -> run_class(monitor_related, C).
class_send_to_alias(C) -> run_class(send_to_alias, C).
class_send_to_name(C) -> run_class(send_to_name, C).
class_send_to_pid(C) -> run_class(send_to_pid, C).
class_spawn_reply(C) -> run_class(spawn_reply, C).
class_spawn_request(C) -> run_class(spawn_request, C).
class_unlink(C) -> run_class(unlink, C).
class_structural_shapes(C) -> run_class(structural_shapes, C).

%%--------------------------------------------------------------------
%% The model checks itself (no NIF output involved)
%%--------------------------------------------------------------------

%% Encoder round trip through erts_debug:dist_ext_to_term/2, DPI-off model
%% is the identity, structural fixtures classify as labelled, and every
%% rewrite the model produces decodes to what it should.
model_self_check(_Config) ->
    Fixtures = edf_model_fixtures:all(),
    Msgs = [M || {_, {_, _, M}} <- Fixtures],
    ct:log("~b fixtures", [length(Msgs)]),
    Router = erldist_filter_nif:router_name(edf_model_fixtures:sender()),
    lists:foreach(
      fun({Mode, DFlags}) ->
              {Frames, _} = edf_model_encode:encode_all(edf_model_encode:new(DFlags), Mode, Msgs),
              ?assertEqual(Msgs, edf_model_channel:replay(DFlags, Frames)),
              M0 = edf_model_channel:new(4, DFlags, #{sysname => edf_model_fixtures:sender()}),
              {Emits, [], _} = edf_model_channel:recv(M0, edf_model_encode:packets(Frames, 4)),
              ?assertEqual(Frames, Emits),
              [begin
                   Cfg = maps:merge(dpi_on(Compact), #{redirect_dist_operations => Redirect}),
                   check_model_delivery(Mode, DFlags, Cfg, Msgs, Router)
               end || Compact <- [false, true], Redirect <- [false, true]]
      end, [{normal, ?DFLAGS_CACHE}, {{fragment, 127}, ?DFLAGS_CACHE},
            {pass_through, ?DFLAGS_MANDATORY}]),
    Bad = [{N, Ex, R} || {structural_shapes, {N, Ex, {C, P}}} <- Fixtures,
                         R <- [edf_model_classify:classify(C, P, #{})],
                         (Ex =:= match) =/= (R =:= {drop, true})],
    ?assertEqual([], Bad),
    ok.

%% What the VM receives from the model's output equals what each message's
%% classification says it should receive.
check_model_delivery(Mode, DFlags, Cfg, Msgs, Router) ->
    Sys = edf_model_fixtures:sender(),
    {Frames, _} = edf_model_encode:encode_all(edf_model_encode:new(DFlags), Mode, Msgs),
    M0 = edf_model_channel:new(4, DFlags, Cfg#{sysname => Sys}),
    {Emits, _Logs, _} = edf_model_channel:recv(M0, edf_model_encode:packets(Frames, 4)),
    Got = [D || D <- edf_model_channel:replay(DFlags, Emits), not edf_model_channel:is_noop(D)],
    Expected = expected_delivery(Msgs, Cfg, Sys, Router),
    case Got =:= Expected of
        true -> ok;
        false ->
            ct:log("mode ~p cfg ~p~ngot ~p~nexpected ~p", [Mode, Cfg, Got, Expected]),
            ct:fail(model_delivery_mismatch)
    end.

expected_delivery(Msgs, Cfg, Sys, Router) ->
    Pid = binary_to_term(<<131, (edf_model_term:dummy_pid_small())/binary>>),
    {Out, _} =
        lists:mapfoldl(
          fun(Msg, Sort) ->
                  C = element(1, Msg),
                  P = case Msg of {_} -> none; {_, P0} -> P0 end,
                  case edf_model_classify:classify(C, P, Cfg) of
                      {emit, _} -> {[Msg], Sort};
                      {drop, _} -> {[], Sort};
                      {redirect, _} ->
                          Ctl = case edf_model_classify:control_spec(C) of
                                    {_, none, _} -> {6, Pid, '', Router};
                                    {_, T, _} -> {16, Pid, '', Router, element(T + 1, C)}
                                end,
                          Pay = case P of
                                    none -> {Sys, Sort, C};
                                    _ -> {Sys, Sort, C, P}
                                end,
                          {[{Ctl, Pay}], Sort + 1};
                      {spawn, _} ->
                          {[{setelement(5, C, {edf, req, 3}), [Sys, element(5, C), P]}], Sort}
                  end
          end, 0, Msgs),
    lists:append(Out).

%%--------------------------------------------------------------------
%% NIF against model
%%--------------------------------------------------------------------

run_class(Class, Config) ->
    Cfg = proplists:get_value(edf, Config),
    Mode = proplists:get_value(mode, Config),
    DFlags = proplists:get_value(dflags, Config),
    Sys = edf_model_fixtures:sender(),
    Fixtures = edf_model_fixtures:class(Class),
    Msgs = [M || {_, _, M} <- Fixtures],
    {Frames, _} = edf_model_encode:encode_all(edf_model_encode:new(DFlags), Mode, Msgs),
    Packets = edf_model_encode:packets(Frames, 4),
    ct:log("class ~p mode ~p config ~p: ~b messages, ~b frames",
           [Class, Mode, Cfg, length(Msgs), length(Frames)]),
    %% model: all at once, and one packet at a time (must agree)
    M0 = edf_model_channel:new(4, DFlags, Cfg#{sysname => Sys}),
    {Emits, Logs, M1} = edf_model_channel:recv(M0, Packets),
    {EmitsL, LogsL, M1b} = lists:foldl(fun(P, {E, L, M}) ->
                                               {E1, L1, Mx} = edf_model_channel:recv(M, [P]),
                                               {E ++ E1, L ++ L1, Mx}
                                       end, {[], [], M0}, Packets),
    ?assertEqual({Emits, Logs, edf_model_channel:stats(M1)},
                 {EmitsL, LogsL, edf_model_channel:stats(M1b)}),
    case maps:get(deep_packet_inspection, Cfg, false) of
        false -> ?assertEqual(Frames, Emits);
        true -> ok
    end,
    ct:log("model: ~b emits, ~b log events, stats ~p",
           [length(Emits), length(Logs), edf_model_channel:stats(M1)]),
    %% NIF
    ok = erldist_filter_nif:config_set(maps:with(edf_test_switches:all(), Cfg)),
    LogCheck = logger_start(),
    Ch1 = erldist_filter_nif:channel_open(4, Sys, 1, 1, DFlags),
    Out1 = emits(erldist_filter_nif:channel_recv(Ch1, Packets)),
    NifLogs1 = logger_take(LogCheck),
    Ch2 = erldist_filter_nif:channel_open(4, Sys, 1, 2, DFlags),
    Out2 = lists:append([emits(erldist_filter_nif:channel_recv(Ch2, [P])) || P <- Packets]),
    NifLogs2 = logger_take(LogCheck),
    Stats1 = nif_dop_stats(Ch1),
    Stats2 = nif_dop_stats(Ch2),
    _ = erldist_filter_nif:channel_close(Ch1),
    _ = erldist_filter_nif:channel_close(Ch2),
    logger_stop(LogCheck),
    edf_test_switches:all_off(),
    compare(all_at_once, Emits, Out1),
    compare(one_per_call, Emits, Out2),
    compare_stats(edf_model_channel:stats(M1), Stats1),
    compare_stats(edf_model_channel:stats(M1), Stats2),
    ?assertEqual(Logs, NifLogs1),
    ?assertEqual(Logs, NifLogs2),
    ok.

emits(Actions) when is_list(Actions) ->
    [B || {emit, B} <- Actions];
emits(Other) ->
    ct:fail({channel_recv, Other}).

compare(How, Expected, Got) when Expected =:= Got ->
    ct:log("~p: ~b frames equal", [How, length(Got)]);
compare(How, Expected, Got) ->
    ct:log("~p: expected ~b frames, got ~b", [How, length(Expected), length(Got)]),
    first_diff(How, 0, Expected, Got).

first_diff(How, I, [E | Es], [E | Gs]) -> first_diff(How, I + 1, Es, Gs);
first_diff(How, I, Es, Gs) ->
    ct:log("first difference at frame ~b~nexpected ~p~ngot      ~p",
           [I, hd_or(Es), hd_or(Gs)]),
    ct:fail({How, emitted_frames_differ, I}).

hd_or([H | _]) -> H;
hd_or([]) -> nothing.

nif_dop_stats(Ch) ->
    #{rx := #{stats := Stats}} = erldist_filter_nif:channel_inspect(Ch),
    maps:filter(fun(K, _) -> lists:prefix("dop_", atom_to_list(K)) end, Stats).

%% Per-DOP counters: every key the NIF reports among seen/emit/drop/
%% redirect/log must equal the model's (absent in the model = 0).
compare_stats(Model, Nif) ->
    Diffs = [{Dop, K, maps:get(K, maps:get(Dop, Model, #{}), 0), V}
             || {Dop, Counters} <- maps:to_list(Nif), {K, V} <- maps:to_list(Counters),
                lists:member(K, [seen, emit, drop, redirect, log]),
                maps:get(K, maps:get(Dop, Model, #{}), 0) =/= V],
    case Diffs of
        [] -> ok;
        _ ->
            ct:log("per-DOP stats differ ({dop, key, model, nif}): ~p", [lists:sort(Diffs)]),
            ct:fail(dop_stats_differ)
    end.

%%--------------------------------------------------------------------
%% Logger
%%--------------------------------------------------------------------

logger_start() ->
    Old = erldist_filter_nif:logger_set_capacity(0),
    L = erldist_filter_nif:logger_open(),
    _ = logger_drain(L, []),
    {L, Old}.

logger_take({L, _}) ->
    [{Sys, Atoms, C, P} || {_Time, {Sys, Atoms, C, P}} <- logger_drain(L, [])].

logger_drain(L, Acc) ->
    case erldist_filter_nif:logger_recv(L) of
        {select, _Ref} -> lists:append(lists:reverse(Acc));
        {_Size, _Drop, Events} -> logger_drain(L, [Events | Acc])
    end.

logger_stop({L, Old}) ->
    _ = erldist_filter_nif:logger_close(L),
    _ = erldist_filter_nif:logger_set_capacity(Old),
    ok.

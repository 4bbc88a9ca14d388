%% @doc Every ratio of issue 19's table in one run, each with its target:
%% <ul>
%% <li>replay of `small.bin' as recorded reads, DPI on, against
%%     `erlang:decode_packet/3' (min of `Reps' passes each,
%%     `edf_bench_replay:mins/4');</li>
%% <li>e2e (`edf_bench_e2e:rates/2', medians of `Passes' interleaved
%%     passes): 1 MiB binaries with DPI on against `inet_tcp' and against
%%     our carrier with the filter bypassed, `gen_server:call' round trips
%%     against `inet_tcp', small messages against the bypassed carrier;</li>
%% <li>the atom guard on against off on `large.bin', DPI off and on, by
%%     callgrind instruction counts of the core's replay example (measured
%%     by `bench/run', handed in as arguments; `-' when valgrind is
%%     missing).</li>
%% </ul>
%% Run: `bash bench/run [Reps [Passes]]' (defaults 5 and 5).
-module(edf_bench_all).

-export([main/1]).

%% `Args': Reps, Passes, then the four callgrind counts of large.bin:
%% DPI off guard off, DPI off guard on, DPI on guard off, DPI on guard on.
-spec main([string()]) -> ok.
main([Reps, Passes | Ir]) ->
    #{decode_packet := Dp, filter := On, packets := Pk} =
        edf_bench_replay:mins("small", "recorded", "dpi_on", list_to_integer(Reps)),
    io:format("replay small.bin recorded: decode_packet ~.1f ns/packet, DPI on ~.1f ns/packet (min of ~s)~n",
              [Dp / Pk, On / Pk, Reps]),
    Rates = edf_bench_e2e:rates(list_to_integer(Passes), 1),
    {_, LargeOn, CallOn} = {SmallOn, _, _} = maps:get("filter dpi_on", Rates),
    {_, LargeTcp, CallTcp} = maps:get("inet_tcp", Rates),
    {SmallFloor, LargeFloor, _} = maps:get("filter bypassed", Rates),
    Guard = case [list_to_integer(I) || I <- Ir, I =/= "-"] of
                [OffOff, OffOn, OnOff, OnOn] -> {OffOn / OffOff, OnOn / OnOff};
                _ -> none
            end,
    Rows = [{"replay small.bin recorded, DPI on / decode_packet", On / Dp, '=<', 3.0, " (stretch 2x)"},
            {"e2e 1 MiB binaries, DPI on / inet_tcp", LargeOn / LargeTcp, '>=', 0.8, ""},
            {"e2e 1 MiB binaries, DPI on / filter bypassed", LargeOn / LargeFloor, '>=', 0.9, ""},
            {"e2e gen_server:call, DPI on / inet_tcp", CallOn / CallTcp, '>=', 0.9, ""},
            {"e2e small messages, DPI on / filter bypassed", SmallOn / SmallFloor, '>=', 0.9, ""}]
        ++ case Guard of
               {GOff, GOn} ->
                   [{"atom guard on / off, large.bin, DPI off (callgrind Ir)", GOff, '=<', 1.5, ""},
                    {"atom guard on / off, large.bin, DPI on (callgrind Ir)", GOn, '=<', 1.5, ""}];
               none ->
                   io:format("~natom guard ratios: valgrind not installed, not measured~n"),
                   []
           end,
    io:format("~nissue 19 table (bash bench/run)~n~-56s ~8s  ~-22s ~s~n", ["measure", "now", "target", "met"]),
    lists:foreach(
      fun({What, X, Op, Target, Note}) ->
              Met = case Op of
                        '=<' -> X =< Target;
                        '>=' -> X >= Target
                    end,
              io:format("~-56s ~7.2fx  ~-22s ~s~n",
                        [What, X, lists:flatten(io_lib:format("~s ~.1fx~s", [Op, Target, Note])),
                         case Met of true -> "yes"; false -> "no" end])
      end, Rows).

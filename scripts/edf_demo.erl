%%% The demo (`scripts/demo'): three local nodes on loopback talk through
%%% the filter carrier (`-proto_dist erldist_filter_inet_tcp'), then each
%%% reports what its filter saw. Every wait is bounded; the peers are
%%% stopped whatever happens.
-module(edf_demo).

-export([main/0]).
%% Run on the peers
-export([start_echo/0]).
-export([exchange/2]).
-export([rx_stats/0]).

-define(TIMEOUT, 15000).
-define(BIG_BYTES, 640 * 1024).

%% @doc Run the demo and print what happened.
-spec main() -> ok.
main() ->
    io:format("Starting 3 peers with -proto_dist erldist_filter_inet_tcp...~n"),
    {ok, Peers} = edf_test_peer:start_many(3, #{carrier => filter_inet, prefix => "demo"}),
    try
        run(Peers)
    after
        edf_test_peer:stop_all(Peers),
        io:format("Peers stopped.~n")
    end.

run(Peers) ->
    Nodes = [Node || #{node := Node} <- Peers],
    [io:format("  ~s~n", [Node]) || Node <- Nodes],
    [ok = call(Peer, ?MODULE, start_echo, []) || Peer <- Peers],
    io:format("~nPings:~n"),
    [io:format("  ~s -> ~s: ~p~n", [From, To, call(P, net_adm, ping, [To])])
     || P = #{node := From} <- Peers, To <- Nodes, To =/= From],
    io:format("~nMessages (echoed back by a registered process):~n"),
    Small = {hello, #{from => demo, atoms => [alpha, beta, gamma]}, self()},
    Big = binary:copy(<<"erldist_filter ">>, ?BIG_BYTES div 15),
    [io:format("  ~s -> ~s: ~s~n", [From, To, call(P, ?MODULE, exchange, [To, Msg])])
     || P = #{node := From} <- Peers, To <- Nodes, To =/= From,
        Msg <- [Small, {big, Big}]],
    io:format("~nWhat each node's filter received (non-zero rx_stats):~n"),
    [print_stats(Node, call(P, ?MODULE, rx_stats, [])) || P = #{node := Node} <- Peers],
    ok.

print_stats(Node, Stats) ->
    io:format("  ~s~n", [Node]),
    [io:format("    ~-36s ~b~n", [Key, Value]) || {Key, Value} <- flatten(Stats), Value =/= 0].

%% `#{dop_reg_send => #{seen => 4}}' becomes `[{"dop_reg_send.seen", 4}]'.
flatten(Map) ->
    lists:sort(lists:append([flatten(atom_to_list(K), V) || {K, V} <- maps:to_list(Map)])).

flatten(Prefix, Map) when is_map(Map) ->
    [{Prefix ++ "." ++ Key, V} || {Key, V} <- flatten(Map)];
flatten(Prefix, Value) ->
    [{Prefix, Value}].

call(#{pid := Pid}, M, F, A) ->
    peer:call(Pid, M, F, A, ?TIMEOUT).

%%% On the peers

%% @doc Register a process that sends every `{From, Ref, Msg}' back.
-spec start_echo() -> ok.
start_echo() ->
    Pid = spawn(fun echo/0),
    true = register(edf_demo_echo, Pid),
    ok.

echo() ->
    receive {From, Ref, Msg} -> From ! {Ref, Msg} end,
    echo().

%% @doc Send `Msg' to `Node''s echo process and describe the round trip.
-spec exchange(node(), term()) -> string().
exchange(Node, Msg) ->
    Ref = make_ref(),
    Start = erlang:monotonic_time(microsecond),
    {edf_demo_echo, Node} ! {self(), Ref, Msg},
    receive
        {Ref, Echo} ->
            Micros = erlang:monotonic_time(microsecond) - Start,
            io_lib:format("~s, ~b bytes external size, came back ~s in ~b us",
                          [describe(Msg), erlang:external_size(Msg),
                           case Echo =:= Msg of true -> "equal"; false -> "DIFFERENT" end,
                           Micros])
    after ?TIMEOUT ->
        "no reply within " ++ integer_to_list(?TIMEOUT) ++ " ms"
    end.

describe({big, _}) -> "large binary (fragmented)";
describe(_) -> "small term".

%% @doc This node's filter statistics over all its connections.
-spec rx_stats() -> map().
rx_stats() ->
    #{channel := #{rx_stats := Stats}} = erldist_filter_nif:world_stats_get(),
    Stats.

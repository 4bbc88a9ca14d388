%%% Starts local peer nodes that talk through the filter carrier (or the
%%% stock one, as a control), for tests and the demo.
%%%
%%% Peers are driven over their standard I/O (`peer', `connection =>
%%% standard_io'), so the controlling node need not be distributed. They
%%% find each other with `edf_test_epmd' (no epmd daemon): each name carries
%%% a port the OS reported free.
-module(edf_test_peer).

-export([start/1]).
-export([start_many/2]).
-export([stop/1]).
-export([stop_all/1]).

-type carrier() :: filter_inet | filter_inet6 | stock_inet
                 | filter_inet_tls | filter_inet6_tls | stock_inet_tls.
%% The TLS carriers need `ssl_dist_optfile' (see `edf_test_tls').
-type options() :: #{carrier => carrier(),
                     prefix => string(),
                     ssl_dist_optfile => file:filename(),
                     net_ticktime => pos_integer(),
                     cookie => atom(),
                     args => [string()]}.
-type peer() :: #{pid := pid(), node := node(), carrier := carrier()}.
-export_type([carrier/0, options/0, peer/0]).

%% @doc Start one peer. Defaults: `filter_inet', cookie `edf_test'.
-spec start(options()) -> {ok, peer()} | {error, term()}.
start(Options) ->
    Carrier = maps:get(carrier, Options, filter_inet),
    {Host, Ip} = host(Carrier),
    Name = edf_test_epmd:node_name(maps:get(prefix, Options, "edf"), Ip),
    Args = carrier_args(Carrier)
        ++ ["-start_epmd", "false", "-epmd_module", "edf_test_epmd",
            "-setcookie", atom_to_list(maps:get(cookie, Options, edf_test))]
        ++ ticktime_args(Options)
        ++ tls_args(Options)
        ++ code_path_args()
        ++ maps:get(args, Options, []),
    case peer:start(#{name => Name, host => Host, longnames => true,
                      connection => standard_io, args => Args}) of
        {ok, Pid, Node} -> {ok, #{pid => Pid, node => Node, carrier => Carrier}};
        {error, _} = Error -> Error
    end.

%% @doc Start `N' peers with the same options (prefixes get a number);
%% stops the ones already started if one fails.
-spec start_many(pos_integer(), options()) -> {ok, [peer()]} | {error, term()}.
start_many(N, Options) ->
    Prefix = maps:get(prefix, Options, "edf"),
    start_many(N, 1, Options, Prefix, []).

start_many(N, I, _Options, _Prefix, Acc) when I > N ->
    {ok, lists:reverse(Acc)};
start_many(N, I, Options, Prefix, Acc) ->
    case start(Options#{prefix => Prefix ++ integer_to_list(I)}) of
        {ok, Peer} ->
            start_many(N, I + 1, Options, Prefix, [Peer | Acc]);
        {error, _} = Error ->
            stop_all(Acc),
            Error
    end.

%% @doc Stop a peer (already stopped is fine).
-spec stop(peer()) -> ok.
stop(#{pid := Pid}) ->
    try peer:stop(Pid)
    catch exit:_ -> ok
    end,
    ok.

%% @doc Stop every peer in the list.
-spec stop_all([peer()]) -> ok.
stop_all(Peers) ->
    lists:foreach(fun stop/1, Peers).

host(Carrier) when Carrier =:= filter_inet6; Carrier =:= filter_inet6_tls ->
    {"::1", {0, 0, 0, 0, 0, 0, 0, 1}};
host(_) -> {"127.0.0.1", {127, 0, 0, 1}}.

carrier_args(filter_inet) -> ["-proto_dist", "erldist_filter_inet_tcp"];
carrier_args(filter_inet6) -> ["-proto_dist", "erldist_filter_inet6_tcp"];
carrier_args(stock_inet) -> ["-proto_dist", "inet_tcp"];
carrier_args(filter_inet_tls) -> ["-proto_dist", "erldist_filter_inet_tls"];
carrier_args(filter_inet6_tls) -> ["-proto_dist", "erldist_filter_inet6_tls"];
carrier_args(stock_inet_tls) -> ["-proto_dist", "inet_tls"].

tls_args(#{ssl_dist_optfile := File}) ->
    ["-ssl_dist_optfile", File];
tls_args(_) ->
    [].

ticktime_args(#{net_ticktime := Seconds}) ->
    ["-kernel", "net_ticktime", integer_to_list(Seconds)];
ticktime_args(_) ->
    [].

%% The peers load our carrier at boot and the NIF on first use: give them
%% the directories this node loaded our modules from, and the application's
%% ebin (with the .app, so the application and its environment load).
code_path_args() ->
    Dirs = lists:usort([filename:dirname(code:which(M))
                        || M <- [erldist_filter_nif, erldist_filter_dist_tcp,
                                 edf_test_epmd, ?MODULE]] ++ app_ebin()),
    lists:append([["-pa", Dir] || Dir <- Dirs]).

app_ebin() ->
    case code:lib_dir(erldist_filter) of
        {error, _} -> [];
        Lib -> [filename:join(Lib, "ebin")]
    end.

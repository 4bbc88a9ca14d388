%%% @doc The distribution-module API over TCP, parameterised by kernel's address
%%% family driver (`inet_tcp' or `inet6_tcp').
%%%
%%% Listening, protocol selection and addresses are kernel's own
%%% (`inet_tcp_dist:gen_*'). Connections differ from stock: instead of
%%% handing the socket port to the VM, each connection runs through
%%% processes (see `erldist_filter_dist_ctrl') so that inbound bytes pass the
%%% filter NIF before `erlang:dist_ctrl_put_data/2'. The handshake is stock
%%% `dist_util', driven through the `#hs_data{}' funs built here.
%%% @hidden Part of the filtering carrier, not an API.
-module(erldist_filter_dist_tcp).

-include_lib("kernel/include/net_address.hrl").
-include_lib("kernel/include/dist_util.hrl").
-include_lib("kernel/include/logger.hrl").

-export([select/2]).
-export([address/1]).
-export([listen/3]).
-export([accept/2]).
-export([accept_connection/6]).
-export([setup/6]).
-export([close/2]).
-export([is_node_name/1]).
-export([setopts/2]).
-export([getopts/2]).

%% Shared with the TLS carrier (`erldist_filter_dist_tls').
-export([hand_over/4]).
-export([check_ip/2]).
-export([split_node/3]).
-export([resolve/3]).
-export([connect_options/1]).
-export([nodelay/0]).

%% Spawned entry points.
-export([accept_loop/3]).
-export([do_accept/7]).
-export([do_setup/7]).

%% Bytes one socket read may deliver after the handshake (`buffer').
-define(READ_BUFFER, 65536).

-type driver() :: inet_tcp | inet6_tcp.
-export_type([driver/0]).

%% @doc Whether `Node' can be reached with this family.
-spec select(driver(), node()) -> boolean().
select(Driver, Node) ->
    inet_tcp_dist:gen_select(Driver, Node).

%% @doc The local address record for this family.
-spec address(driver()) -> #net_address{}.
address(Driver) ->
    inet_tcp_dist:gen_address(Driver).

%% @doc Open the listen socket (`{packet, 2}', passive) and register with
%% the epmd module, exactly as stock, once the NIF's library is found.
-spec listen(driver(), atom() | string(), string()) ->
    {ok, {port(), #net_address{}, non_neg_integer()}} | {error, term()}.
listen(Driver, Name, Host) ->
    case nif_present() of
        ok -> inet_tcp_dist:gen_listen(Driver, Name, Host);
        {error, _} = Error -> Error
    end.

%% Without the NIF's library every connection would be refused, and the
%% user would learn why only at the first one: check at listen that it is
%% there, so a node without it does not start distribution, with a reason
%% that says what to do. At boot that reason is all the user sees (net_kernel
%% prints it; the VM stops before a logger prints anything), so it is a
%% sentence. The NIF itself still loads at the first connection (the
%% application's environment is read then). TLS listens through here too.
-spec nif_present() -> ok | {error, {erldist_filter_nif_missing, string()}}.
nif_present() ->
    Lib = erldist_filter_nif_library:path() ++ ".so",
    case code:is_loaded(erldist_filter_nif) =/= false orelse prim_file:read_file_info(Lib) of
        true -> ok;
        {ok, _} -> ok;
        {error, _} ->
            Why = lists:flatten(io_lib:format("~ts is missing; build and install it with `sh native/build.sh' "
                                              "or set ERLDIST_FILTER_PREBUILT_NIF (README: Troubleshooting)",
                                              [Lib])),
            ok = erldist_filter_default_handler:early(),
            ?LOG_ERROR(#{what => erldist_filter_nif_missing, why => Why}, #{domain => [erldist_filter]}),
            {error, {erldist_filter_nif_missing, Why}}
    end.

%% @doc Start the acceptor, linked to net_kernel (the caller).
-spec accept(driver(), port()) -> pid().
accept(Driver, Listen) ->
    spawn_opt(?MODULE, accept_loop, [Driver, self(), Listen],
              [link, {priority, max}]).

%% @doc Start the connection supervisor for an accepted connection; it runs
%% the handshake once the acceptor has linked it to the controller.
-spec accept_connection(driver(), pid(), pid(), node(), [atom()], non_neg_integer()) ->
    pid().
accept_connection(Driver, AcceptPid, Ctrl, MyNode, Allowed, SetupTime) ->
    spawn_opt(?MODULE, do_accept,
              [Driver, self(), AcceptPid, Ctrl, MyNode, Allowed, SetupTime],
              dist_util:net_ticker_spawn_options()).

%% @doc Start the connection supervisor for an outgoing connection.
-spec setup(driver(), node(), normal | hidden, node(), longnames | shortnames,
            non_neg_integer()) -> pid().
setup(Driver, Node, Type, MyNode, LongOrShortNames, SetupTime) ->
    spawn_opt(?MODULE, do_setup,
              [Driver, self(), Node, Type, MyNode, LongOrShortNames, SetupTime],
              dist_util:net_ticker_spawn_options()).

%% @doc Close the listen socket.
-spec close(driver(), port()) -> ok.
close(Driver, Listen) ->
    Driver:close(Listen).

%% @doc Whether `Node' looks like `Name@Host'.
-spec is_node_name(term()) -> boolean().
is_node_name(Node) ->
    inet_tcp_dist:is_node_name(Node).

%% @doc `net_kernel:setopts/2' on the listen socket.
-spec setopts(port(), [inet:socket_setopt()]) -> ok | {error, term()}.
setopts(Listen, Opts) ->
    inet_tcp_dist:setopts(Listen, Opts).

%% @doc `net_kernel:getopts/2' on the listen socket.
-spec getopts(port(), [inet:socket_getopt()]) -> {ok, list()} | {error, term()}.
getopts(Listen, Opts) ->
    inet_tcp_dist:getopts(Listen, Opts).

%%% Accepting

%% @private
-spec accept_loop(driver(), pid(), port()) -> no_return().
accept_loop(Driver, Kernel, Listen) ->
    case Driver:accept(Listen) of
        {ok, Socket} ->
            Ctrl = erldist_filter_dist_ctrl:start(Driver, Socket, accept),
            case Driver:controlling_process(Socket, Ctrl) of
                ok ->
                    hand_over(Kernel, Ctrl, Driver:family(), tcp);
                {error, _} ->
                    %% The peer left already; never crash the acceptor,
                    %% it is linked to net_kernel.
                    exit(Ctrl, kill),
                    _ = Driver:close(Socket)
            end,
            accept_loop(Driver, Kernel, Listen);
        Error ->
            exit(Error)
    end.

%% @doc Offer the connection of controller `Ctrl' to net_kernel and, once
%% it has started the connection supervisor, link the two and let it run.
-spec hand_over(pid(), pid(), inet:address_family(), tcp | tls) -> ok.
hand_over(Kernel, Ctrl, Family, Protocol) ->
    Kernel ! {accept, self(), Ctrl, Family, Protocol},
    receive
        {Kernel, controller, Ticker} ->
            %% If the controller died meanwhile, the ticker finds out on
            %% its first call and shuts the attempt down; the acceptor
            %% carries on either way.
            try erldist_filter_dist_ctrl:supervise(Ctrl, Ticker)
            catch _:_ -> ok
            end,
            Ticker ! {self(), controller},
            ok;
        {Kernel, unsupported_protocol} ->
            %% As stock: the acceptor gives up; the controller must not
            %% outlive it with an orphaned socket.
            exit(Ctrl, kill),
            exit(unsupported_protocol)
    end.

%% @private
-spec do_accept(driver(), pid(), pid(), pid(), node(), [atom()], non_neg_integer()) ->
    no_return().
do_accept(Driver, Kernel, AcceptPid, Ctrl, MyNode, Allowed, SetupTime) ->
    receive
        {AcceptPid, controller} ->
            Timer = dist_util:start_timer(SetupTime),
            Socket = erldist_filter_dist_ctrl:socket(Ctrl),
            case check_ip(Driver, Socket) of
                true ->
                    HSData = (hs_data(Driver, Ctrl, Socket))#hs_data{
                               kernel_pid = Kernel,
                               this_node = MyNode,
                               timer = Timer,
                               this_flags = 0,
                               allowed = Allowed},
                    dist_util:handshake_other_started(HSData);
                {false, IP} ->
                    ok = erldist_filter_default_handler:early(),
                    ?LOG_ERROR(#{what => connection_from_disallowed_ip, ip => IP},
                               #{domain => [erldist_filter]}),
                    ?shutdown(no_node)
            end
    end.

%% @doc Only accept peers on our own subnets when kernel's `check_ip' is
%% true (`Socket' is the TCP socket).
-spec check_ip(driver(), port()) -> true | {false, inet:ip_address()}.
check_ip(Driver, Socket) ->
    case application:get_env(kernel, check_ip) of
        {ok, true} ->
            case {inet:peername(Socket), inet:getif(Socket)} of
                {{ok, {PeerIP, _}}, {ok, IFs}} ->
                    Same = [ok || {OwnIP, _, Mask} <- IFs,
                                  Driver:mask(Mask, PeerIP) =:= Driver:mask(Mask, OwnIP)],
                    Same =/= [] orelse {false, PeerIP};
                _ ->
                    ?shutdown(no_node)
            end;
        _ ->
            true
    end.

%%% Connecting

%% @private
-spec do_setup(driver(), pid(), node(), normal | hidden, node(),
               longnames | shortnames, non_neg_integer()) -> no_return().
do_setup(Driver, Kernel, Node, Type, MyNode, LongOrShortNames, SetupTime) ->
    {Name, Host} = split_node(Driver, Node, LongOrShortNames),
    Timer = dist_util:start_timer(SetupTime),
    case resolve(Driver, Name, Host) of
        {ok, Ip, TcpPort, Version} ->
            dist_util:reset_timer(Timer),
            Opts = connect_options([{active, false}, {packet, 2}]),
            case Driver:connect(Ip, TcpPort, Opts) of
                {ok, Socket} ->
                    Ctrl = erldist_filter_dist_ctrl:start(Driver, Socket, setup),
                    %% Link first: if anything below fails, the controller
                    %% goes down with us instead of lingering.
                    ok = erldist_filter_dist_ctrl:supervise(Ctrl, self()),
                    ok = Driver:controlling_process(Socket, Ctrl),
                    HSData = (hs_data(Driver, Ctrl, Socket))#hs_data{
                               kernel_pid = Kernel,
                               other_node = Node,
                               this_node = MyNode,
                               timer = Timer,
                               this_flags = 0,
                               other_version = Version,
                               request_type = Type},
                    dist_util:handshake_we_started(HSData);
                _ ->
                    ?shutdown(Node)
            end;
        _ ->
            ?shutdown(Node)
    end.

%% @doc The address, port and protocol version of `Name' on `Host'. The
%% epmd module may answer with the port directly (`address_please/3'
%% returning 4 elements) or only with the address (then `port_please/2').
-spec resolve(driver(), string(), string()) ->
    {ok, inet:ip_address(), inet:port_number(), non_neg_integer()} | {error, term()}.
resolve(Driver, Name, Host) ->
    Epmd = net_kernel:epmd_module(),
    case epmd_call(Epmd, address_please, [Name, Host, Driver:family()]) of
        {ok, Ip, Port, Version} ->
            {ok, Ip, Port, Version};
        {ok, Ip} ->
            case Epmd:port_please(Name, Ip) of
                {port, Port, Version} -> {ok, Ip, Port, Version};
                Other -> {error, Other}
            end;
        Other ->
            {error, Other}
    end.

%% Custom epmd modules may leave out optional callbacks; kernel falls back
%% to erl_epmd for those, and so do we.
epmd_call(Mod, Fun, Args) ->
    _ = code:ensure_loaded(Mod),
    case erlang:function_exported(Mod, Fun, length(Args)) of
        true -> apply(Mod, Fun, Args);
        false -> apply(erl_epmd, Fun, Args)
    end.

%% @doc `Opts' after kernel's `inet_dist_connect_options'.
-spec connect_options(list()) -> list().
connect_options(Opts) ->
    case application:get_env(kernel, inet_dist_connect_options) of
        {ok, ConnectOpts} -> ConnectOpts ++ Opts;
        _ -> Opts
    end.

%% @doc `{Name, Host}' of `Node', with the same rules as stock: longnames
%% need a dotted host or an IP address, shortnames must not have dots.
-spec split_node(driver(), node(), longnames | shortnames) -> {string(), string()}.
split_node(Driver, Node, LongOrShortNames) ->
    case dist_util:split_node(Node) of
        {node, Name, Host} ->
            Dotted = lists:member($., Host),
            case LongOrShortNames of
                longnames when not Dotted ->
                    case Driver:parse_address(Host) of
                        {ok, _} -> {Name, Host};
                        _ -> bad_host(Node, "fully qualified hostnames", Host)
                    end;
                shortnames when Dotted ->
                    bad_host(Node, "short hostnames", Host);
                _ ->
                    {Name, Host}
            end;
        _ ->
            ok = erldist_filter_default_handler:early(),
            ?LOG_ERROR(#{what => illegal_node_name, node => Node}, #{domain => [erldist_filter]}),
            ?shutdown(Node)
    end.

bad_host(Node, Expected, Host) ->
    ok = erldist_filter_default_handler:early(),
    ?LOG_ERROR(#{what => illegal_host_name, node => Node, host => Host, expected => Expected},
               #{domain => [erldist_filter]}),
    ?shutdown(Node).

%%% The handshake funs

%% `Ctrl' (the controller pid) stands for the socket towards `dist_util';
%% it owns the socket during the handshake and becomes the registered
%% distribution controller (what `f_getll' returns).
hs_data(Driver, Ctrl, Socket) ->
    #hs_data{
       socket = Ctrl,
       f_send = fun erldist_filter_dist_ctrl:handshake_send/2,
       f_recv = fun erldist_filter_dist_ctrl:handshake_recv/3,
       f_setopts_pre_nodeup = fun(C) when C =:= Ctrl -> pre_nodeup(Socket) end,
       f_setopts_post_nodeup = fun(C) when C =:= Ctrl -> ok end,
       f_getll = fun(C) when C =:= Ctrl -> {ok, Ctrl} end,
       f_address = fun(C, Node) when C =:= Ctrl -> remote_address(Driver, Socket, Node) end,
       f_handshake_complete = erldist_filter_dist_ctrl:handshake_complete_fun(Ctrl, fun(_Node) -> ok end),
       mf_tick = fun erldist_filter_dist_ctrl:tick/1,
       mf_getstat = fun(C) when C =:= Ctrl -> getstat(Socket) end,
       mf_setopts = fun(C, Opts) when C =:= Ctrl -> connection_setopts(Socket, Opts) end,
       mf_getopts = fun(C, Opts) when C =:= Ctrl -> inet_tcp_dist:getopts(Socket, Opts) end}.

%% After the handshake both directions frame by hand (4-byte lengths): the
%% sender batches many frames into one write, the receiver hands raw bytes
%% to the NIF, which does the framing. The socket stays passive until the
%% input process owns it. A raw socket reads at most `buffer' bytes at a
%% time (1460 by default): a larger buffer means fewer messages and NIF
%% calls per megabyte.
pre_nodeup(Socket) ->
    inet:setopts(Socket, [{active, false}, {packet, raw}, binary, nodelay(),
                          {buffer, ?READ_BUFFER}]).

%% `net_kernel:setopts/2' on a live connection: options that would change
%% how bytes reach the receiver (activity, framing, mode) stay ours.
connection_setopts(Socket, Opts) ->
    Reserved = [active, deliver, packet, mode, header, binary, list],
    case [Opt || Opt <- Opts, lists:member(option_name(Opt), Reserved)] of
        [] -> inet:setopts(Socket, Opts);
        Bad -> {error, {badopts, Bad}}
    end.

option_name({Name, _}) -> Name;
option_name(Name) -> Name.

%% @doc Kernel's `dist_nodelay' as a socket option (default true).
-spec nodelay() -> {nodelay, boolean()}.
nodelay() ->
    case application:get_env(kernel, dist_nodelay) of
        {ok, false} -> {nodelay, false};
        _ -> {nodelay, true}
    end.

remote_address(Driver, Socket, Node) ->
    case {inet:peername(Socket), dist_util:split_node(Node)} of
        {{ok, Address}, {node, _, Host}} ->
            #net_address{address = Address, host = Host, protocol = tcp,
                         family = Driver:family()};
        _ ->
            ?shutdown(no_node)
    end.

%% Ticks are zero-length packets the NIF consumes without emitting, so the
%% VM's own `dist_get_stat' would never see them arrive; the socket's
%% counters do, and they are what `dist_util' needs to tell an idle peer
%% from a dead one.
getstat(Socket) ->
    case inet:getstat(Socket, [recv_cnt, send_cnt, send_pend]) of
        {ok, Stat} ->
            {ok, proplists:get_value(recv_cnt, Stat, 0),
             proplists:get_value(send_cnt, Stat, 0),
             proplists:get_value(send_pend, Stat, 0)};
        Error ->
            Error
    end.

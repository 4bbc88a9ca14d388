%%% The distribution-module API over TLS, parameterised by kernel's address
%%% family driver (`inet_tcp' or `inet6_tcp').
%%%
%%% The TLS side is OTP's: options from `-ssl_dist_optfile' /
%%% `-ssl_dist_opt' ({@link erldist_filter_tls_options}), `ssl:handshake/3'
%%% and `ssl:connect/4' with them, the same `{packet, 4}' framing during the
%%% distribution handshake, the same checks of `net_kernel:allow/1' nodes
%%% against the peer's certificate, and `inet_tls_dist:verify_client/3' as
%%% a `verify_fun' gets the peer's address as in OTP. So stock
%%% `inet_tls_dist' nodes and ours talk to each other.
%%%
%%% Once TLS is up, a connection is run by the same processes as over TCP
%%% (`erldist_filter_dist_ctrl' and siblings) with `erldist_filter_dist_ssl'
%%% as their driver: decrypted inbound bytes pass the filter NIF before
%%% `erlang:dist_ctrl_put_data/2'. Before the first message is delivered,
%%% the peer's certificate identity is recorded for handlers and policies
%%% ({@link erldist_filter_peer_cert}).
%%% @hidden Internal to the library, not an API.
-module(erldist_filter_dist_tls).

-include_lib("kernel/include/net_address.hrl").
-include_lib("kernel/include/dist_util.hrl").
-include_lib("kernel/include/logger.hrl").

-export([childspecs/0]).
-export([listen/3]).
-export([accept/2]).
-export([accept_connection/6]).
-export([setup/6]).

%% Spawned entry points.
-export([accept_loop/4]).
-export([accept_tls/4]).
-export([do_accept/7]).
-export([do_setup/7]).

-type driver() :: erldist_filter_dist_tcp:driver().

%% TLS handshakes under way at once on the accepting side, unless
%% `inet_dist_listen_options' sets a `backlog'.
-define(MAX_PENDING, 128).

%% @doc OTP's TLS distribution supervisor (it reads `-ssl_dist_optfile' and
%% supervises the TLS connections), and the certificate identity table.
-spec childspecs() -> {ok, [supervisor:child_spec()]}.
childspecs() ->
    {ok, Specs} = inet_tls_dist:childspecs(),
    {ok, Specs ++ [erldist_filter_peer_cert:child_spec()]}.

%% @doc Listen as over TCP (once the NIF's library is found); the address
%% says `tls', as net_kernel expects in the accept messages.
-spec listen(driver(), atom() | string(), string()) ->
    {ok, {port(), #net_address{}, non_neg_integer()}} | {error, term()}.
listen(Driver, Name, Host) ->
    case erldist_filter_dist_tcp:listen(Driver, Name, Host) of
        {ok, {Listen, Address, Creation}} ->
            {ok, {Listen, Address#net_address{protocol = tls}, Creation}};
        Error ->
            Error
    end.

%% @doc Start the acceptor, linked to net_kernel (the caller).
-spec accept(driver(), port()) -> pid().
accept(Driver, Listen) ->
    spawn_opt(?MODULE, accept_loop, [Driver, self(), Listen, #{}], [link, {priority, max}]).

%% @doc Start the connection supervisor for an accepted connection.
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

%%% Accepting

%% @private Each accepted TCP connection does its TLS handshake in a
%% process of its own, so a slow or silent client holds up no one; at most
%% `max_pending()' at a time.
-spec accept_loop(driver(), pid(), port(), #{reference() => true}) -> no_return().
accept_loop(Driver, Kernel, Listen, Pending) ->
    case map_size(Pending) >= max_pending() of
        true ->
            receive
                {'DOWN', Ref, process, _, _} ->
                    accept_loop(Driver, Kernel, Listen, maps:remove(Ref, Pending))
            end;
        false ->
            case Driver:accept(Listen) of
                {ok, Socket} ->
                    {Pid, Ref} = spawn_opt(?MODULE, accept_tls,
                                           [Driver, Kernel, self(), Socket],
                                           [monitor, {priority, max}]),
                    _ = Driver:controlling_process(Socket, Pid),
                    Pid ! {self(), socket},
                    accept_loop(Driver, Kernel, Listen, flush_down(Pending#{Ref => true}));
                Error ->
                    exit(Error)
            end
    end.

flush_down(Pending) ->
    receive
        {'DOWN', Ref, process, _, _} -> flush_down(maps:remove(Ref, Pending))
    after 0 ->
        Pending
    end.

max_pending() ->
    Options = application:get_env(kernel, inet_dist_listen_options, []),
    case lists:keyfind(backlog, 1, Options) of
        {backlog, Backlog} when is_integer(Backlog), Backlog > 0 -> Backlog;
        _ -> ?MAX_PENDING
    end.

%% @private TLS server handshake, then the connection is offered to
%% net_kernel as over TCP. A failed handshake only ends this process.
-spec accept_tls(driver(), pid(), pid(), port()) -> ok | {error, term()}.
accept_tls(Driver, Kernel, AcceptLoop, Socket) ->
    receive {AcceptLoop, socket} -> ok end,
    case erldist_filter_dist_tcp:check_ip(Driver, Socket) of
        true ->
            Opts = with_peer_address(Socket, erldist_filter_tls_options:read(server)),
            wait_for_code_server(),
            case ssl:handshake(Socket, [{active, false}, {packet, 4} | Opts],
                               net_kernel:connecttime()) of
                {ok, TlsSocket} ->
                    Ctrl = erldist_filter_dist_ctrl:start(erldist_filter_dist_ssl, TlsSocket,
                                                          accept),
                    case ssl:controlling_process(TlsSocket, Ctrl) of
                        ok ->
                            erldist_filter_dist_tcp:hand_over(Kernel, Ctrl, Driver:family(), tls);
                        {error, _} = Error ->
                            exit(Ctrl, kill),
                            Error
                    end;
                {error, {options, _}} = Error ->
                    %% Our configuration, not the peer, is wrong: say so.
                    ?LOG_ERROR("Cannot accept TLS distribution connection: ~ts~n",
                               [ssl:format_error(Error)]),
                    _ = Driver:close(Socket),
                    Error;
                {error, _} = Error ->
                    _ = Driver:close(Socket),
                    Error
            end;
        {false, IP} ->
            ?LOG_ERROR("** Connection attempt from disallowed IP ~w **~n", [IP]),
            _ = Driver:close(Socket),
            {error, {disallowed, IP}}
    end.

%% `{verify_fun, {fun inet_tls_dist:verify_client/3, _}}' in the server
%% options marks that the client's certificate must name its address or
%% an allowed host; as in OTP, its state becomes `{AllowedHosts, PeerIP}'
%% (first occurrence; others are dropped).
with_peer_address(Socket, Opts) ->
    case lists:splitwith(fun(Opt) -> not is_verify_client(Opt) end, Opts) of
        {Opts, []} ->
            Opts;
        {Before, [_ | After]} ->
            {ok, {PeerIP, _}} = inet:peername(Socket),
            {ok, Allowed} = net_kernel:allowed(),
            State = {allowed_hosts(Allowed), PeerIP},
            Before ++ [{verify_fun, {fun inet_tls_dist:verify_client/3, State}}
                       | [Opt || Opt <- After, not is_verify_client(Opt)]]
    end.

is_verify_client({verify_fun, {Fun, _}}) -> Fun =:= fun inet_tls_dist:verify_client/3;
is_verify_client(_) -> false.

allowed_hosts(Allowed) ->
    lists:usort([Host || Entry <- Allowed, Host <- [host_of(Entry)], Host =/= undefined]).

host_of(Entry) ->
    case dist_util:split_node(Entry) of
        {node, _, Host} -> Host;
        {host, Host} -> Host;
        _ -> undefined
    end.

%% Distribution may accept before the code server runs; the TLS handshake
%% loads `crypto', whose on_load needs the code server.
wait_for_code_server() ->
    case whereis(code_server) of
        undefined -> timer:sleep(10), wait_for_code_server();
        _ -> ok
    end.

%% @private
-spec do_accept(driver(), pid(), pid(), pid(), node(), [atom()], non_neg_integer()) ->
    no_return().
do_accept(Driver, Kernel, AcceptPid, Ctrl, MyNode, Allowed, SetupTime) ->
    Monitor = erlang:monitor(process, AcceptPid),
    receive
        {AcceptPid, controller} ->
            erlang:demonitor(Monitor, [flush]),
            Timer = dist_util:start_timer(SetupTime),
            Socket = erldist_filter_dist_ctrl:socket(Ctrl),
            HSData = (hs_data(Driver, Ctrl, Socket))#hs_data{
                       kernel_pid = Kernel,
                       this_node = MyNode,
                       timer = Timer,
                       this_flags = 0,
                       allowed = allowed_by_certificate(Socket, Allowed)},
            dist_util:handshake_other_started(HSData);
        {'DOWN', Monitor, process, AcceptPid, _} ->
            %% The acceptor died between offering and handing over.
            ?shutdown2(MyNode, connection_setup_failed)
    end.

%% With `net_kernel:allow/1' in force, as in OTP: only the allowed hosts
%% the peer's certificate names (plus its address, if the certificate
%% names that) stay allowed; none means the peer is refused.
allowed_by_certificate(_Socket, []) ->
    [];
allowed_by_certificate(Socket, Allowed) ->
    case ssl:peercert(Socket) of
        {ok, Der} ->
            {ok, {PeerIP, _}} = ssl:peername(Socket),
            Cert = public_key:pkix_decode_cert(Der, otp),
            Hosts = [Host || Host <- allowed_hosts(Allowed),
                             public_key:pkix_verify_hostname(Cert, [{dns_id, Host}])],
            ByAddress = case public_key:pkix_verify_hostname(Cert, [{ip, PeerIP}]) of
                            true -> [inet:ntoa(PeerIP)];
                            false -> []
                        end,
            case Hosts ++ ByAddress of
                [] ->
                    ?LOG_ERROR("** Connection attempt from disallowed node(s) ~p **~n",
                               [PeerIP]),
                    ?shutdown2(PeerIP, not_allowed);
                Names ->
                    Names
            end;
        {error, no_peercert} ->
            Allowed;
        Error ->
            ?shutdown2(no_peer_cert, Error)
    end.

%%% Connecting

%% @private
-spec do_setup(driver(), pid(), node(), normal | hidden, node(),
               longnames | shortnames, non_neg_integer()) -> no_return().
do_setup(Driver, Kernel, Node, Type, MyNode, LongOrShortNames, SetupTime) ->
    {Name, Host} = erldist_filter_dist_tcp:split_node(Driver, Node, LongOrShortNames),
    Timer = dist_util:start_timer(SetupTime),
    case erldist_filter_dist_tcp:resolve(Driver, Name, Host) of
        {ok, Ip, TcpPort, Version} ->
            dist_util:reset_timer(Timer),
            Opts = [binary, {active, false}, {packet, 4}, {server_name_indication, Host},
                    Driver:family(), erldist_filter_dist_tcp:nodelay()]
                ++ erldist_filter_dist_tcp:connect_options(
                     erldist_filter_tls_options:read(client)),
            case ssl:connect(Ip, TcpPort, Opts, net_kernel:connecttime()) of
                {ok, Socket} ->
                    Ctrl = erldist_filter_dist_ctrl:start(erldist_filter_dist_ssl, Socket,
                                                          setup),
                    ok = erldist_filter_dist_ctrl:supervise(Ctrl, self()),
                    ok = ssl:controlling_process(Socket, Ctrl),
                    HSData = (hs_data(Driver, Ctrl, Socket))#hs_data{
                               kernel_pid = Kernel,
                               other_node = Node,
                               this_node = MyNode,
                               timer = Timer,
                               this_flags = 0,
                               other_version = Version,
                               request_type = Type},
                    dist_util:handshake_we_started(HSData);
                Error ->
                    ?shutdown2(Node, {tls_connect_failed, Ip, TcpPort, Error})
            end;
        _ ->
            ?shutdown(Node)
    end.

%%% The handshake funs: as over TCP (see `erldist_filter_dist_tcp'), on
%%% the TLS socket.

hs_data(Driver, Ctrl, Socket) ->
    #hs_data{
       socket = Ctrl,
       f_send = fun erldist_filter_dist_ctrl:handshake_send/2,
       f_recv = fun erldist_filter_dist_ctrl:handshake_recv/3,
       f_setopts_pre_nodeup = fun(C) when C =:= Ctrl -> pre_nodeup(Socket) end,
       f_setopts_post_nodeup = fun(C) when C =:= Ctrl -> ok end,
       f_getll = fun(C) when C =:= Ctrl -> {ok, Ctrl} end,
       f_address = fun(C, Node) when C =:= Ctrl -> remote_address(Driver, Socket, Node) end,
       f_handshake_complete = erldist_filter_dist_ctrl:handshake_complete_fun(
                                Ctrl, fun(Node) -> register_peer_cert(Ctrl, Socket, Node) end),
       mf_tick = fun erldist_filter_dist_ctrl:tick/1,
       mf_getstat = fun(C) when C =:= Ctrl -> getstat(Socket) end,
       mf_setopts = fun(C, Opts) when C =:= Ctrl -> connection_setopts(Socket, Opts) end,
       mf_getopts = fun(C, Opts) when C =:= Ctrl -> ssl:getopts(Socket, Opts) end}.

%% The data phase frames by hand, as over TCP: within TLS the stream
%% carries the same 4-byte-length frames OTP's TLS distribution sends.
pre_nodeup(Socket) ->
    ssl:setopts(Socket, [{active, false}, {packet, raw}, binary,
                         erldist_filter_dist_tcp:nodelay()]).

%% Record who the peer's certificate says it is before its first message
%% can arrive (the controller registers the receiver only now).
register_peer_cert(Ctrl, Socket, Node) ->
    case ssl:peercert(Socket) of
        {ok, Der} ->
            ok = erldist_filter_peer_cert:register(Node, Ctrl,
                                                   erldist_filter_peer_cert:identity(Der));
        {error, no_peercert} ->
            ok
    end.

connection_setopts(Socket, Opts) ->
    Reserved = [active, deliver, packet, mode, header, binary, list],
    case [Opt || Opt <- Opts, lists:member(option_name(Opt), Reserved)] of
        [] -> ssl:setopts(Socket, Opts);
        Bad -> {error, {badopts, Bad}}
    end.

option_name({Name, _}) -> Name;
option_name(Name) -> Name.

remote_address(Driver, Socket, Node) ->
    case {ssl:peername(Socket), dist_util:split_node(Node)} of
        {{ok, Address}, {node, _, Host}} ->
            #net_address{address = Address, host = Host, protocol = tls,
                         family = Driver:family()};
        _ ->
            ?shutdown(no_node)
    end.

%% The TCP socket's counters, encrypted ticks included (see
%% `erldist_filter_dist_tcp' on why the VM's own would not do).
getstat(Socket) ->
    case ssl:getstat(Socket, [recv_cnt, send_cnt, send_pend]) of
        {ok, Stat} ->
            {ok, proplists:get_value(recv_cnt, Stat, 0),
             proplists:get_value(send_cnt, Stat, 0),
             proplists:get_value(send_pend, Stat, 0)};
        Error ->
            Error
    end.

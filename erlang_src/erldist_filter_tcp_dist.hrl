%%% The distribution-module API shared by `erldist_filter_inet_tcp_dist'
%%% and `erldist_filter_inet6_tcp_dist': each defines `?DRIVER' (the
%%% address family's kernel driver, `inet_tcp' or `inet6_tcp') and includes
%%% this file; the work is in `erldist_filter_dist_tcp'. The TLS carriers
%%% also define `?CONNECT' as `erldist_filter_dist_tls', which then
%%% listens, accepts and connects.

-ifndef(CONNECT).
-define(CONNECT, erldist_filter_dist_tcp).
-endif.

-export([listen/1]).
-export([listen/2]).
-export([accept/1]).
-export([accept_connection/5]).
-export([setup/5]).
-export([close/1]).
-export([select/1]).
-export([address/0]).
-export([is_node_name/1]).
-export([setopts/2]).
-export([getopts/2]).


%% @doc Listen on this host (net_kernel calls `listen/2' when it can).
-spec listen(atom() | string()) -> {ok, {port(), term(), non_neg_integer()}} | {error, term()}.
listen(Name) ->
    {ok, Host} = inet:gethostname(),
    listen(Name, Host).

%% @doc Open the listen socket and register `Name' with the epmd module.
-spec listen(atom() | string(), string()) ->
    {ok, {port(), term(), non_neg_integer()}} | {error, term()}.
listen(Name, Host) ->
    ?CONNECT:listen(?DRIVER, Name, Host).

%% @doc Start accepting connections.
-spec accept(port()) -> pid().
accept(Listen) ->
    ?CONNECT:accept(?DRIVER, Listen).

%% @doc Run the handshake of an accepted connection.
-spec accept_connection(pid(), pid(), node(), [atom()], non_neg_integer()) -> pid().
accept_connection(AcceptPid, Ctrl, MyNode, Allowed, SetupTime) ->
    ?CONNECT:accept_connection(?DRIVER, AcceptPid, Ctrl, MyNode,
                                              Allowed, SetupTime).

%% @doc Connect to `Node' and run the handshake.
-spec setup(node(), normal | hidden, node(), longnames | shortnames,
            non_neg_integer()) -> pid().
setup(Node, Type, MyNode, LongOrShortNames, SetupTime) ->
    ?CONNECT:setup(?DRIVER, Node, Type, MyNode, LongOrShortNames,
                                  SetupTime).

%% @doc Close the listen socket.
-spec close(port()) -> ok.
close(Listen) ->
    erldist_filter_dist_tcp:close(?DRIVER, Listen).

%% @doc Whether this family can reach `Node'.
-spec select(node()) -> boolean().
select(Node) ->
    erldist_filter_dist_tcp:select(?DRIVER, Node).

%% @doc This node's address record for the family.
-spec address() -> term().
address() ->
    erldist_filter_dist_tcp:address(?DRIVER).

%% @doc Whether `Node' is a well-formed node name.
-spec is_node_name(term()) -> boolean().
is_node_name(Node) ->
    erldist_filter_dist_tcp:is_node_name(Node).

%% @doc Set options on the listen socket (`net_kernel:setopts/2').
-spec setopts(port(), list()) -> ok | {error, term()}.
setopts(Listen, Opts) ->
    erldist_filter_dist_tcp:setopts(Listen, Opts).

%% @doc Read options of the listen socket (`net_kernel:getopts/2').
-spec getopts(port(), list()) -> {ok, list()} | {error, term()}.
getopts(Listen, Opts) ->
    erldist_filter_dist_tcp:getopts(Listen, Opts).

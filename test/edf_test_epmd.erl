%%% A stand-in for epmd (`-epmd_module edf_test_epmd -start_epmd false'):
%%% every node name maps to a fixed port, so test and demo nodes find each
%%% other without an epmd daemon.
%%%
%%% The port of `Name@Host':
%%% - `Name' ends in `_p<Port>' (e.g. `edf_a_p41234'): that port. Helpers
%%%   pick a free port from the OS and put it in the name, so nodes never
%%%   collide with each other or with anything else on the machine;
%%% - otherwise a hash of `Name' into [Base, Base + 10000), Base from the
%%%   environment variable `EDF_TEST_EPMD_BASE' (default 40000).
%%% There is no registry: `names/1' reports nothing and `register_node'
%%% only hands out a creation.
-module(edf_test_epmd).

-export([start_link/0]).
-export([register_node/2]).
-export([register_node/3]).
-export([listen_port_please/2]).
-export([port_please/2]).
-export([port_please/3]).
-export([address_please/3]).
-export([names/0]).
-export([names/1]).
-export([port_of/1]).
-export([node_name/2]).

%% Distribution protocol version 6 (OTP 23 and later).
-define(DIST_VERSION, 6).
-define(HASH_RANGE, 10000).
-define(DEFAULT_BASE, 40000).

%% @doc No process is needed; net_sup accepts `ignore'.
-spec start_link() -> ignore.
start_link() ->
    ignore.

%% @doc "Register" a node: hand out a fresh creation (32-bit, > 3 as OTP
%% 23+ expects), as epmd does.
-spec register_node(atom() | string(), inet:port_number()) -> {ok, pos_integer()}.
register_node(_Name, _Port) ->
    {ok, 3 + rand:uniform(16#fffffff0)}.

%% @doc As `register_node/2', for any address family.
-spec register_node(atom() | string(), inet:port_number(), atom()) -> {ok, pos_integer()}.
register_node(Name, Port, _Family) ->
    register_node(Name, Port).

%% @doc The port `Name' listens on (kernel asks before listening).
-spec listen_port_please(atom() | string(), term()) -> {ok, inet:port_number()}.
listen_port_please(Name, _Host) ->
    {ok, port_of(Name)}.

%% @doc The port of `Name' on any host.
-spec port_please(atom() | string(), term()) -> {port, inet:port_number(), pos_integer()}.
port_please(Name, _Ip) ->
    {port, port_of(Name), ?DIST_VERSION}.

%% @doc As `port_please/2'.
-spec port_please(atom() | string(), term(), timeout()) ->
    {port, inet:port_number(), pos_integer()}.
port_please(Name, Ip, _Timeout) ->
    port_please(Name, Ip).

%% @doc Address and port in one answer, so no `port_please' is needed.
-spec address_please(atom() | string(), string() | inet:ip_address(), inet | inet6) ->
    {ok, inet:ip_address(), inet:port_number(), pos_integer()} | {error, term()}.
address_please(Name, Host, Family) ->
    case inet:getaddr(Host, Family) of
        {ok, Ip} -> {ok, Ip, port_of(Name), ?DIST_VERSION};
        Error -> Error
    end.

%% @doc No registry to list.
-spec names() -> {ok, []}.
names() ->
    {ok, []}.

%% @doc No registry to list.
-spec names(term()) -> {ok, []}.
names(_Host) ->
    {ok, []}.

%% @doc The port a node name (the part before `@') maps to.
-spec port_of(atom() | string()) -> inet:port_number().
port_of(Name) when is_atom(Name) ->
    port_of(atom_to_list(Name));
port_of(Name) ->
    case string:split(Name, "_p", trailing) of
        [_, Digits] when Digits =/= [] ->
            try list_to_integer(Digits) of
                Port when Port > 0, Port < 65536 -> Port;
                _ -> hashed_port(Name)
            catch
                error:badarg -> hashed_port(Name)
            end;
        _ ->
            hashed_port(Name)
    end.

%% @doc A name with `Prefix' whose port is one the OS just reported free
%% on `Ip'.
-spec node_name(string(), inet:ip_address()) -> string().
node_name(Prefix, Ip) ->
    {ok, Listen} = gen_tcp:listen(0, [{ip, Ip}, {reuseaddr, true}]),
    {ok, Port} = inet:port(Listen),
    ok = gen_tcp:close(Listen),
    Prefix ++ "_p" ++ integer_to_list(Port).

hashed_port(Name) ->
    base() + erlang:phash2(Name, ?HASH_RANGE).

base() ->
    case os:getenv("EDF_TEST_EPMD_BASE") of
        false -> ?DEFAULT_BASE;
        Value -> list_to_integer(Value)
    end.

%%% The certificate identity of each node connected over the TLS carrier,
%%% by node name, for handlers and policies (read with
%%% {@link erldist_filter:peer_certificate/1}).
%%%
%%% A node name is only a claim; the certificate its connection presented
%%% (and TLS verified) is not. The carrier records the identity before the
%%% connection delivers its first message and the entry goes away when the
%%% connection's controller exits, so a lookup answers for the connection
%%% the node has now.
%%%
%%% The table lives in this process, which the TLS carrier's
%%% `childspecs/0' starts under `net_sup' (distribution starts before any
%%% application).
-module(erldist_filter_peer_cert).
-behaviour(gen_server).

-include_lib("public_key/include/public_key.hrl").

-export([child_spec/0]).
-export([start_link/0]).
-export([register/3]).
-export([lookup/1]).
-export([identity/1]).
%% gen_server
-export([init/1]).
-export([handle_call/3]).
-export([handle_cast/2]).
-export([handle_info/2]).

-define(TABLE, ?MODULE).

-type attribute() :: {atom() | tuple(), binary() | term()}.
-type identity() :: #{subject := [attribute()],
                      subject_alt_names := [attribute()],
                      issuer := [attribute()],
                      certificate := public_key:der_encoded()}.
-export_type([identity/0]).

%% @doc Child of `net_sup', beside OTP's `ssl_dist_sup'.
-spec child_spec() -> supervisor:child_spec().
child_spec() ->
    #{id => ?MODULE, start => {?MODULE, start_link, []}, restart => permanent,
      shutdown => 1000, type => worker, modules => [?MODULE]}.

%% @private
-spec start_link() -> {ok, pid()}.
start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% @doc Record `Node''s identity for as long as `Controller' (its
%% connection's controller) lives.
-spec register(node(), pid(), identity()) -> ok.
register(Node, Controller, Identity) ->
    true = ets:insert(?TABLE, {Node, Controller, Identity}),
    gen_server:cast(?MODULE, {watch, Node, Controller}).

%% @doc The identity of `Node''s TLS connection.
-spec lookup(node()) -> {ok, identity()} | undefined.
lookup(Node) ->
    try ets:lookup(?TABLE, Node) of
        [{Node, _Controller, Identity}] -> {ok, Identity};
        [] -> undefined
    catch
        %% No TLS carrier on this node.
        error:badarg -> undefined
    end.

%% @doc The identity in a DER certificate: subject and issuer attributes
%% and subject alternative names, in certificate order. Known attribute
%% types get short names (`cn', `o', `ou', `c', `st', `l', `dc',
%% `email', `serial_number'), others keep their OID; string values are
%% UTF-8 binaries. Alternative names: `{dns, Bin}', `{ip, Address}',
%% `{uri, Bin}', `{email, Bin}', others as decoded.
-spec identity(public_key:der_encoded()) -> identity().
identity(Der) ->
    #'OTPCertificate'{tbsCertificate = Tbs} = public_key:pkix_decode_cert(Der, otp),
    #'OTPTBSCertificate'{subject = Subject, issuer = Issuer, extensions = Extensions} = Tbs,
    #{subject => name(Subject), issuer => name(Issuer),
      subject_alt_names => alt_names(Extensions), certificate => Der}.

name({rdnSequence, Rdns}) ->
    [{attribute_type(Type), text(Value)}
     || Rdn <- Rdns, #'AttributeTypeAndValue'{type = Type, value = Value} <- Rdn];
name(_) ->
    [].

attribute_type(?'id-at-commonName') -> cn;
attribute_type(?'id-at-organizationName') -> o;
attribute_type(?'id-at-organizationalUnitName') -> ou;
attribute_type(?'id-at-countryName') -> c;
attribute_type(?'id-at-stateOrProvinceName') -> st;
attribute_type(?'id-at-localityName') -> l;
attribute_type(?'id-domainComponent') -> dc;
attribute_type(?'id-emailAddress') -> email;
attribute_type(?'id-at-serialNumber') -> serial_number;
attribute_type(Oid) -> Oid.

%% Directory strings come tagged with their ASN.1 type.
text({Tag, Value}) when is_atom(Tag) -> text(Value);
text(Value) when is_binary(Value) -> Value;
text(Value) when is_list(Value) ->
    case unicode:characters_to_binary(Value) of
        Bin when is_binary(Bin) -> Bin;
        _ -> list_to_binary([C || C <- Value, is_integer(C), C >= 0, C =< 255])
    end;
text(Value) -> Value.

alt_names(Extensions) when is_list(Extensions) ->
    lists:append([[alt_name(Name) || Name <- Names]
                  || #'Extension'{extnID = ?'id-ce-subjectAltName', extnValue = Names}
                         <- Extensions, is_list(Names)]);
alt_names(_) ->
    [].

alt_name({dNSName, Name}) -> {dns, text(Name)};
alt_name({uniformResourceIdentifier, Uri}) -> {uri, text(Uri)};
alt_name({rfc822Name, Email}) -> {email, text(Email)};
alt_name({iPAddress, Bytes}) when is_binary(Bytes) -> {ip, ip_address(Bytes)};
alt_name({iPAddress, Bytes}) when is_list(Bytes) -> {ip, ip_address(list_to_binary(Bytes))};
alt_name(Other) -> Other.

ip_address(<<A, B, C, D>>) -> {A, B, C, D};
ip_address(<<A:16, B:16, C:16, D:16, E:16, F:16, G:16, H:16>>) -> {A, B, C, D, E, F, G, H};
ip_address(Other) -> Other.

%%% gen_server: owns the table, drops an entry when its controller exits.

%% @private
init([]) ->
    ?TABLE = ets:new(?TABLE, [named_table, public, set, {read_concurrency, true}]),
    {ok, #{}}.

%% @private
handle_call(_Request, _From, State) ->
    {reply, {error, unknown_call}, State}.

%% @private
handle_cast({watch, Node, Controller}, Monitors) ->
    Ref = erlang:monitor(process, Controller),
    {noreply, Monitors#{Ref => {Node, Controller}}};
handle_cast(_Request, State) ->
    {noreply, State}.

%% @private A newer connection of the same node may have replaced the
%% entry already: delete only the dead controller's.
handle_info({'DOWN', Ref, process, _, _}, Monitors) ->
    case maps:take(Ref, Monitors) of
        {{Node, Controller}, Rest} ->
            true = ets:match_delete(?TABLE, {Node, Controller, '_'}),
            {noreply, Rest};
        error ->
            {noreply, Monitors}
    end;
handle_info(_Info, State) ->
    {noreply, State}.

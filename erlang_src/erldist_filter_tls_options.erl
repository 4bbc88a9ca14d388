%%% The `ssl' options of TLS distribution, read from the same places and
%%% with the same meaning as for OTP's `inet_tls_dist':
%%%
%%% - `-ssl_dist_optfile File': a file holding
%%%   `[{server, ServerOpts}, {client, ClientOpts}]'. OTP's `ssl_dist_sup'
%%%   (started by our `childspecs/0') reads it at boot into the named table
%%%   `ssl_dist_opts'; we read that table.
%%% - otherwise `-ssl_dist_opt server_certfile F client_verify verify_peer
%%%   ...': `server_'/`client_' prefixed option names followed by string
%%%   values, converted to the option's type.
%%%
%%% Either way `{erl_dist, true}' is added (the connection runs under
%%% `ssl_dist_sup', the `ssl' application need not be started) and TLS 1.2
%%% is the default version, as in OTP.
%%% @hidden Internal to the library, not an API.
-module(erldist_filter_tls_options).

-export([read/1]).

-type role() :: server | client.
-export_type([role/0]).

%% @doc The `ssl' options for the side of the connection we play.
-spec read(role()) -> [ssl:tls_option()].
read(Role) ->
    Opts = case from_optfile(Role) of
               {ok, FileOpts} -> FileOpts;
               none -> from_arguments(Role)
           end,
    [{erl_dist, true} | default_versions(Opts)].

from_optfile(Role) ->
    try ets:lookup(ssl_dist_opts, Role) of
        [{Role, Opts}] -> {ok, Opts};
        [] -> none
    catch
        %% No optfile given: `ssl_dist_sup' made no table.
        error:badarg -> none
    end.

default_versions(Opts) ->
    case lists:keymember(versions, 1, Opts) of
        true -> Opts;
        false -> [{versions, ['tlsv1.2']} | Opts]
    end.

from_arguments(Role) ->
    case init:get_argument(ssl_dist_opt) of
        {ok, Args} -> pairs(Role, lists:append(Args));
        error -> []
    end.

%% The arguments alternate name, value; a name for the other role is
%% skipped, an unknown one for ours is a configuration error.
pairs(Role, [Name, Value | Rest]) ->
    case for_role(Role, Name) of
        {ok, Option} -> [option(Role, Option, Value) | pairs(Role, Rest)];
        other_role -> pairs(Role, Rest)
    end;
pairs(_Role, []) ->
    [];
pairs(Role, Odd) ->
    error({malformed_ssl_dist_opt, Role, Odd}).

for_role(server, "server_" ++ Option) -> {ok, Option};
for_role(client, "client_" ++ Option) -> {ok, Option};
for_role(_Role, _Name) -> other_role.

option(Role, Option, Value) ->
    case convert(Role, Option) of
        undefined -> error({malformed_ssl_dist_opt, Role, Option});
        Convert -> {list_to_atom(Option), Convert(Value)}
    end.

%% The options `-ssl_dist_opt' accepts and how their strings convert.
convert(server, "dhfile") -> fun string/1;
convert(server, "fail_if_no_peer_cert") -> fun list_to_atom/1;
convert(_Role, Option) when Option =:= "certfile"; Option =:= "keyfile";
                            Option =:= "cacertfile"; Option =:= "password";
                            Option =:= "ciphers" -> fun string/1;
convert(_Role, Option) when Option =:= "verify"; Option =:= "crl_check";
                            Option =:= "reuse_sessions";
                            Option =:= "secure_renegotiate" -> fun list_to_atom/1;
convert(_Role, Option) when Option =:= "depth"; Option =:= "hibernate_after" ->
    fun list_to_integer/1;
convert(_Role, "crl_cache") -> fun term/1;
convert(_Role, "verify_fun") -> fun verify_fun/1;
convert(_Role, _Option) -> undefined.

string(Value) when is_list(Value) -> Value.

term(String) ->
    {ok, Tokens, _} = erl_scan:string(String ++ "."),
    {ok, Term} = erl_parse:parse_term(Tokens),
    Term.

%% `"{Module, Function, InitialState}"' names an exported arity-3 fun.
verify_fun(String) ->
    case term(String) of
        {Module, Function, State} when is_atom(Module), is_atom(Function) ->
            {fun Module:Function/3, State};
        _ ->
            error({malformed_ssl_dist_opt, verify_fun, String})
    end.

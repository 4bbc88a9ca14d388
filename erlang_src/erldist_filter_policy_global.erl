%%% @doc The safe policy's rules for what other nodes send
%%% `global_name_server' (see {@link erldist_filter_policy}).
%%%
%%% `global' needs the name on every node, but its server also takes
%%% requests only a local caller should make: a peer gets only the calls
%%% other nodes' `global' makes (register, unregister, locks), and a name
%%% it registers is kept in every node's tables, so its size is bounded
%%% (`global_max_name_bytes'). Funs other than the resolvers of
%%% `global_resolvers' are refused by the policy before these rules.
%%% @hidden Part of the safe policy, not an API.
-module(erldist_filter_policy_global).

-export([decision/2]).
-export([resolvers/1]).

%% @doc The decision on a fun-free payload to `global_name_server'.
-spec decision(term(), map()) -> {erldist_filter_policy:decision(), erldist_filter_policy:reason()}.
decision({'$gen_call', _, Request}, Config) ->
    case global_remote_call(Request) of
        true -> global_name_size(Request, maps:get(global_max_name_bytes, Config));
        false -> {drop, global_local_request}
    end;
decision(_Payload, _Config) ->
    {keep, allowed_name}.

%% @doc The modules whose funs may travel to `global_name_server': its
%% name-clash resolvers (global's default is a local fun of `global').
-spec resolvers(map()) -> [module()].
resolvers(Config) ->
    maps:get(global_resolvers, Config).

%% The requests other nodes send global_name_server (multi_call).
global_remote_call({register, _, _, _}) -> true;
global_remote_call({register_ext, _, _, _, _}) -> true;
global_remote_call({unregister, _}) -> true;
global_remote_call({set_lock, _}) -> true;
global_remote_call({del_lock, _}) -> true;
global_remote_call(_) -> false.

%% A global name is kept in every node's tables: bound its size.
global_name_size(Request, Max) ->
    case erlang:external_size(element(2, Request)) =< Max of
        true -> {keep, allowed_name};
        false -> {drop, global_name_too_large}
    end.

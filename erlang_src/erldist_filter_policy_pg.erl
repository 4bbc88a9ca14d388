%%% @doc The safe policy's rules for what other nodes send the default
%%% `pg' scope (see {@link erldist_filter_policy}): only what a peer scope
%%% sends, in a shape this node's pg knows, about the sending node's own
%%% processes. pg crashes on anything else (a few crashes take the node
%%% down) or would store other nodes' processes as the peer's members.
%%% Funs are refused by the policy before these rules.
%%% @hidden Part of the safe policy, not an API.
-module(erldist_filter_policy_pg).

-export([decision/2]).

%% @doc The decision on a fun-free payload from `Sysname' to `pg'.
-spec decision(node(), term()) -> {erldist_filter_policy:decision(), erldist_filter_policy:reason()}.
decision(Sysname, Payload) ->
    case pg_message(Sysname, Payload) of
        true -> {keep, allowed_name};
        false -> {drop, pg_request}
    end.

%% What pg's scope processes on other nodes send the default scope `pg':
%% a discover, joins and leaves of their own processes, a sync of all of
%% them; from OTP 29 (pg on data_publisher) a versioned discover, an
%% update (groups with members added and removed) and the local data (a
%% map of groups to members), which 29 sends to 29 and the older shapes to
%% older peers. A shape is kept only where this node's pg knows it (the
%% versioned discover from OTP 27, the others from 29): pg crashes on one
%% it does not know. The peer and every member are processes of the sending
%% node (pg announces only its own node's members); anything else would be
%% stored as a member of another node's processes, or crash pg (OTP 29's
%% raises badarg on a message it does not know, and a few such crashes
%% take down kernel_safe_sup and with it the node).
pg_message(Sysname, {discover, Peer}) ->
    on_node(Sysname, Peer);
pg_message(Sysname, {discover, Peer, Version}) when is_integer(Version) ->
    otp_release() >= 27 andalso on_node(Sysname, Peer);
pg_message(Sysname, {update, Peer, Update}) ->
    otp_release() >= 29 andalso on_node(Sysname, Peer) andalso proper_length(Update) =/= undefined
        andalso lists:all(fun({_Group, Add, Remove}) when is_list(Add), is_list(Remove) ->
                                  members_on_node(Sysname, Add) andalso members_on_node(Sysname, Remove);
                             (_) -> false
                          end, Update);
pg_message(Sysname, {'$gen_cast', {local_data, Peer, Version, Groups}})
  when is_integer(Version), is_map(Groups) ->
    otp_release() >= 29 andalso on_node(Sysname, Peer)
        andalso lists:all(fun(Pids) -> is_list(Pids) andalso members_on_node(Sysname, Pids) end,
                          maps:values(Groups));
pg_message(Sysname, {join, Peer, _Group, PidOrPids}) ->
    on_node(Sysname, Peer) andalso members_on_node(Sysname, PidOrPids);
pg_message(Sysname, {leave, Peer, PidOrPids, Groups}) ->
    on_node(Sysname, Peer) andalso members_on_node(Sysname, PidOrPids)
        andalso proper_length(Groups) =/= undefined;
pg_message(Sysname, {'$gen_cast', {sync, Peer, Groups}}) ->
    on_node(Sysname, Peer) andalso proper_length(Groups) =/= undefined
        andalso lists:all(fun({_Group, Pids}) when is_list(Pids) -> members_on_node(Sysname, Pids);
                             (_) -> false
                          end, Groups);
pg_message(_Sysname, _Payload) ->
    false.

otp_release() -> list_to_integer(erlang:system_info(otp_release)).

on_node(Sysname, Pid) -> is_pid(Pid) andalso node(Pid) =:= Sysname.

members_on_node(Sysname, Pid) when is_pid(Pid) -> node(Pid) =:= Sysname;
members_on_node(Sysname, Pids) when is_list(Pids) ->
    proper_length(Pids) =/= undefined andalso lists:all(fun(P) -> on_node(Sysname, P) end, Pids);
members_on_node(_Sysname, _Other) -> false.

%% A peer's list may be improper: lists:all/2 would crash on it.
proper_length(List) ->
    try length(List)
    catch error:badarg -> undefined
    end.

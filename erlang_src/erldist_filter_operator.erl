%%% @doc Operator connections: the connections the safe policy trusts with
%%% everything, so that a release's own tools (`bin/app rpc', `remote',
%%% `stop', relx's `ping' and `remote_console', `erl_call', `erl -remsh')
%%% work while every other peer stays under the policy.
%%%
%%% Application `erldist_filter', key `operators', a list of rules
%%% (default `[]': no operator, the policy applies to every peer):
%%% <ul>
%%% <li>`{loopback, Patterns}': the connection's peer address is a
%%%   loopback address (`127.0.0.0/8', `::1', `::ffff:127.x.y.z') and the
%%%   node's name (the part before `@') matches one of `Patterns'
%%%   (strings; `*' matches any run of characters), or the pattern
%%%   `dynamic' is among them and this node made up the name (the peer
%%%   connected with a host only and asked for a name: `erl_call -R',
%%%   `erl -name undefined@Host ...', relx's `remote_console').</li>
%%% <li>`release_tools': `{loopback, release_tool_names()}'.</li>
%%% <li>`{peer_cert, Type, Value}': the node is connected over the TLS
%%%   carrier with a certificate whose subject or alternative names hold
%%%   `{Type, Value}' (see {@link erldist_filter:peer_certificate/1}).</li>
%%% </ul>
%%% A node name is only a claim, so a name rule never stands alone: it is
%%% bound to the address the connection really comes from (the socket's
%%% peer address, which `net_kernel' keeps per connection), or the rule
%%% is a verified certificate. Read at every decision.
-module(erldist_filter_operator).

-include_lib("kernel/include/net_address.hrl").

-export([is_operator/1]).
-export([is_operator/2]).
-export([release_tool_names/0]).
-export([check/1]).

-type pattern() :: string() | binary() | dynamic.
-type rule() :: release_tools | {loopback, [pattern()]} | {peer_cert, atom() | tuple(), term()}.
-export_type([rule/0]).

%% @doc The names release tools give their hidden nodes: mix release's
%% `rpc-*' (rpc, eval of stop, pid, restart) and `rem-*' (remote); relx's
%% `maint*' (its nodetool escript: relx's `rpc', `eval', `ping', `stop'
%% when `vm.args' has `-proto_dist' (rebar3 3.24 and later) or
%% `USE_NODETOOL' is set) and `remsh*' (`remote_console' on OTP before
%% 23.1, also a hand-made `erl -remsh' named so); and `dynamic', names
%% this node made up for a peer that asked for one: relx's `erl_call -R'
%% (its commands without nodetool) and its `remote_console' (`-name
%% undefined@Host' on OTP 23.1 and later). A node that asks for its name
%% cannot listen for connections, so no cluster member has one.
-spec release_tool_names() -> [pattern()].
release_tool_names() ->
    ["rpc-*", "rem-*", "remsh*", "maint*", dynamic].

%% @doc Whether `Node''s current connection is an operator connection
%% under the rules in the application environment.
-spec is_operator(node()) -> boolean().
is_operator(Node) ->
    is_operator(Node, application:get_env(erldist_filter, operators, [])).

%% @doc Whether `Node''s current connection is an operator connection
%% under `Rules'.
-spec is_operator(node(), [rule()]) -> boolean().
is_operator(_Node, []) ->
    false;
is_operator(Node, Rules) when is_list(Rules) ->
    lists:any(fun(Rule) -> matches(Node, Rule) end, Rules);
is_operator(_Node, _Rules) ->
    false.

%% @doc Whether `Rules' is a valid `operators' value.
-spec check(term()) -> boolean().
check(Rules) when is_list(Rules) ->
    lists:all(fun valid_rule/1, Rules);
check(_Rules) ->
    false.

valid_rule(release_tools) -> true;
valid_rule({loopback, Patterns}) when is_list(Patterns), Patterns =/= [] ->
    lists:all(fun(P) -> P =:= dynamic orelse pattern_text(P) =/= error end, Patterns);
valid_rule({peer_cert, _Type, _Value}) -> true;
valid_rule(_) -> false.

matches(Node, release_tools) ->
    matches(Node, {loopback, release_tool_names()});
matches(Node, {loopback, Patterns}) ->
    %% The address first: it is the part that cannot be claimed.
    is_loopback(peer_address(Node)) andalso name_matches(Node, Patterns);
matches(Node, {peer_cert, Type, Value}) ->
    case erldist_filter:peer_certificate(Node) of
        {ok, #{subject := Subject, subject_alt_names := AltNames}} ->
            lists:member({Type, Value}, Subject ++ AltNames);
        undefined ->
            false
    end;
matches(_Node, _Rule) ->
    false.

%% The address the connection's socket is connected to, as the carrier
%% reported it to dist_util at the handshake (`f_address').
peer_address(Node) ->
    try net_kernel:node_info(Node, address) of
        {ok, #net_address{address = {IP, _Port}}} -> IP;
        _ -> undefined
    catch
        _:_ -> undefined
    end.

is_loopback({127, _, _, _}) -> true;
is_loopback({0, 0, 0, 0, 0, 0, 0, 1}) -> true;
is_loopback({0, 0, 0, 0, 0, 16#ffff, A, _}) -> A bsr 8 =:= 127;
is_loopback(_) -> false.

name_matches(Node, Patterns) ->
    [Name | _] = string:split(atom_to_list(Node), "@"),
    lists:any(fun(dynamic) -> name_made_here(Node);
                 (P) -> glob(pattern_text(P), Name)
              end, Patterns).

%% Whether this node made up `Node''s name for its current connection:
%% the peer sent a host only and asked for a name (OTP 23+ dynamic node
%% names), and `net_kernel' picked a random one. `net_kernel' keeps that
%% per connection in its `sys_dist' table, in the `remote_name_type'
%% field of its `#connection{}' record (the 11th element, unchanged from
%% OTP 23 through 29; a later layout change reads as no, and the release
%% suite's relx case fails). A name given back to the pool and claimed
%% later by a node with a name of its own reads `static'.
name_made_here(Node) ->
    try ets:lookup(sys_dist, Node) of
        [Conn] when tuple_size(Conn) >= 11, element(1, Conn) =:= connection,
                    element(2, Conn) =:= Node ->
            element(11, Conn) =:= dynamic;
        _ ->
            false
    catch
        error:badarg -> false
    end.

pattern_text(P) when is_binary(P) -> pattern_text(unicode:characters_to_list(P));
pattern_text(P) when is_list(P) ->
    case io_lib:printable_unicode_list(P) of
        true -> P;
        false -> error
    end;
pattern_text(_) -> error.

%% `*' matches any run of characters, everything else itself.
glob(error, _) -> false;
glob([], []) -> true;
glob([$* | Rest], Name) ->
    glob(Rest, Name) orelse (Name =/= [] andalso glob([$* | Rest], tl(Name)));
glob([C | Rest], [C | Name]) -> glob(Rest, Name);
glob(_, _) -> false.

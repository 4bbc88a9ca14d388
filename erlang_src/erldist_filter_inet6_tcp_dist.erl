%%% @doc `-proto_dist erldist_filter_inet6_tcp': Erlang distribution over TCP/IPv6
%%% with inbound traffic filtered by the erldist_filter NIF. The stock
%%% distribution-module API (`listen/1,2', `accept/1',
%%% `accept_connection/5', `setup/5', `close/1', `select/1', `address/0',
%%% `is_node_name/1', `setopts/2', `getopts/2'; see "How to implement an
%%% alternative carrier" in the ERTS User's Guide); the work is in
%%% `erldist_filter_dist_tcp'.
-module(erldist_filter_inet6_tcp_dist).

-define(DRIVER, inet6_tcp).
-include("erldist_filter_tcp_dist.hrl").

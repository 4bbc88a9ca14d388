%%% `-proto_dist erldist_filter_inet_tcp': Erlang distribution over TCP/IPv4
%%% with inbound traffic filtered by the erldist_filter NIF. The stock
%%% distribution-module API; the work is in `erldist_filter_dist_tcp'.
-module(erldist_filter_inet_tcp_dist).

-define(DRIVER, inet_tcp).
-include("erldist_filter_tcp_dist.hrl").

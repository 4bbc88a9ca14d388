%%% `-proto_dist erldist_filter_inet6_tcp': Erlang distribution over TCP/IPv6
%%% with inbound traffic filtered by the erldist_filter NIF. The stock
%%% distribution-module API; the work is in `erldist_filter_dist_tcp'.
-module(erldist_filter_inet6_tcp_dist).

-define(DRIVER, inet6_tcp).
-include("erldist_filter_tcp_dist.hrl").

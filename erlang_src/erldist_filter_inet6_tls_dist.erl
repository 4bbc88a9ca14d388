%%% `-proto_dist erldist_filter_inet6_tls': Erlang distribution over TLS on
%%% TCP/IPv6, configured like OTP's `inet6_tls' (`-ssl_dist_optfile',
%%% `-ssl_dist_opt'), with decrypted inbound traffic filtered by the
%%% erldist_filter NIF. The stock distribution-module API; the work is in
%%% `erldist_filter_dist_tls'.
-module(erldist_filter_inet6_tls_dist).

-export([childspecs/0]).

-define(DRIVER, inet6_tcp).
-define(CONNECT, erldist_filter_dist_tls).
-include("erldist_filter_tcp_dist.hrl").

%% @doc Children net_kernel starts with distribution (OTP's TLS
%% distribution supervisor, the certificate identity table).
-spec childspecs() -> {ok, [supervisor:child_spec()]}.
childspecs() ->
    erldist_filter_dist_tls:childspecs().

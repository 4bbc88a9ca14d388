%%% A TLS connection as the "driver" of a connection's processes
%%% (`erldist_filter_dist_ctrl', `_output', `_input'): the calls they make
%%% on kernel's `inet_tcp' for a TCP socket, made on an `ssl' socket.
%%% Ticks need no `force' here: `ssl' queues every write in its sender.
%%% @hidden Internal to the library, not an API.
-module(erldist_filter_dist_ssl).

-export([send/2]).
-export([send/3]).
-export([recv/3]).
-export([controlling_process/2]).

%% @doc Write `Data'.
-spec send(ssl:sslsocket(), iodata()) -> ok | {error, term()}.
send(Socket, Data) ->
    ssl:send(Socket, Data).

%% @doc Write `Data' (`inet_tcp:send/3''s options do not apply).
-spec send(ssl:sslsocket(), iodata(), list()) -> ok | {error, term()}.
send(Socket, Data, _Opts) ->
    ssl:send(Socket, Data).

%% @doc Read one packet (passive socket).
-spec recv(ssl:sslsocket(), non_neg_integer(), timeout()) -> {ok, binary()} | {error, term()}.
recv(Socket, Length, Timeout) ->
    ssl:recv(Socket, Length, Timeout).

%% @doc Hand the connection to `Pid'.
-spec controlling_process(ssl:sslsocket(), pid()) -> ok | {error, term()}.
controlling_process(Socket, Pid) ->
    ssl:controlling_process(Socket, Pid).

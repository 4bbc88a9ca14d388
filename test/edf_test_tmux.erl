%%% A real terminal for the suites that drive interactive programs (the
%%% live view, remote shells): one tmux session on a server of its own
%%% (its own socket, never the user's tmux), typed into with `send-keys'
%%% and read with `capture-pane'.
%%%
%%% A terminal gives no message to wait on: `await/2,3' polls the screen
%%% (every 200 ms, bounded).
-module(edf_test_tmux).

-export([require/1]).
-export([start/1, start/2, stop/1]).
-export([keys/2, send_keys/2, capture/1, await/2, await/3, await_text/2]).
-export([capture_history/1, await_history_text/2]).

-define(SESSION, "edf").
-define(TIMEOUT, 30000).

%% @doc A suite's `init_per_suite': fail (not skip: a skipped suite proves
%% nothing) when tmux is missing.
-spec require(list()) -> list() | {fail, string()}.
require(Config) ->
    case os:find_executable("tmux") of
        false -> {fail, "tmux is not installed (scripts/setup installs it)"};
        _ -> Config
    end.

%% @doc A new tmux server running `Command' (a shell command line) in a
%% 200x50 terminal; `cwd' sets its directory. Returns the socket, which
%% names the session in every other call.
-spec start(string()) -> file:filename().
start(Command) ->
    start(Command, #{}).

-spec start(string(), #{cwd => file:filename()}) -> file:filename().
start(Command, Options) ->
    Socket = "/tmp/edf_tmux_" ++ os:getpid() ++ "_"
        ++ integer_to_list(erlang:unique_integer([positive])) ++ ".sock",
    Cwd = case Options of
              #{cwd := Dir} -> ["-c", Dir];
              #{} -> []
          end,
    ok = tmux(Socket, ["new-session", "-d", "-s", ?SESSION, "-x", "200", "-y", "50"] ++ Cwd ++ [Command]),
    Socket.

%% @doc Kill the server (and with it whatever runs in the terminal).
-spec stop(file:filename() | undefined) -> ok.
stop(undefined) ->
    ok;
stop(Socket) ->
    _ = tmux(Socket, ["kill-server"]),
    _ = file:delete(Socket),
    ok.

%% @doc Type `Text' and Enter.
-spec keys(file:filename(), string()) -> ok.
keys(Socket, Text) ->
    ok = send_keys(Socket, Text),
    ok = tmux(Socket, ["send-keys", "-t", ?SESSION, "Enter"]).

%% @doc Type `Text' as is (no Enter).
-spec send_keys(file:filename(), string()) -> ok.
send_keys(Socket, Text) ->
    tmux(Socket, ["send-keys", "-t", ?SESSION, "-l", Text]).

%% @doc The visible screen.
-spec capture(file:filename()) -> string().
capture(Socket) ->
    capture(Socket, []).

capture(Socket, Options) ->
    Port = open_port({spawn_executable, os:find_executable("tmux")},
                     [{args, ["-S", Socket, "capture-pane", "-p"] ++ Options ++ ["-t", ?SESSION]},
                      exit_status, binary]),
    capture_loop(Port, <<>>).

%% @doc Everything the terminal has shown (the scrollback and the
%% screen), wrapped lines joined: for text a fast program may already have
%% scrolled away (a long crash report).
-spec capture_history(file:filename()) -> string().
capture_history(Socket) ->
    capture(Socket, ["-J", "-S", "-"]).

%% @doc Wait until the terminal has shown `Text' (in its scrollback or on
%% the screen); everything it has shown then.
-spec await_history_text(file:filename(), string()) -> string().
await_history_text(Socket, Text) ->
    await_until(Socket, fun(S) -> string:find(S, Text) =/= nomatch end,
                erlang:monotonic_time(millisecond) + ?TIMEOUT, fun capture_history/1).

%% @doc Wait (30 s at most) until `Pred(Screen)'; the screen then.
-spec await(file:filename(), fun((string()) -> boolean())) -> string().
await(Socket, Pred) ->
    await(Socket, Pred, ?TIMEOUT).

-spec await(file:filename(), fun((string()) -> boolean()), timeout()) -> string().
await(Socket, Pred, Timeout) ->
    await_until(Socket, Pred, erlang:monotonic_time(millisecond) + Timeout, fun capture/1).

%% @doc Wait until the screen holds `Text'.
-spec await_text(file:filename(), string()) -> string().
await_text(Socket, Text) ->
    await(Socket, fun(S) -> string:find(S, Text) =/= nomatch end).

tmux(Socket, Args) ->
    Port = open_port({spawn_executable, os:find_executable("tmux")},
                     [{args, ["-S", Socket | Args]}, exit_status, stderr_to_stdout, binary]),
    collect(Port, <<>>).

collect(Port, Acc) ->
    receive
        {Port, {data, Data}} -> collect(Port, <<Acc/binary, Data/binary>>);
        {Port, {exit_status, 0}} -> ok;
        {Port, {exit_status, Status}} -> {error, Status, Acc}
    end.

capture_loop(Port, Acc) ->
    receive
        {Port, {data, Data}} -> capture_loop(Port, <<Acc/binary, Data/binary>>);
        {Port, {exit_status, _}} -> binary_to_list(Acc)
    end.

await_until(Socket, Pred, Deadline, Capture) ->
    Screen = Capture(Socket),
    case Pred(Screen) of
        true -> Screen;
        false ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> ct:fail({screen_timeout, Screen});
                false -> timer:sleep(200), await_until(Socket, Pred, Deadline, Capture)
            end
    end.

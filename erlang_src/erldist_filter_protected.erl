%%% @doc Keeps the NIF informed of this node's protected processes
%%% (issue 16), so that a send to one of their pids is judged as a send to
%%% its name and cannot go around the name rules.
%%%
%%% Protected: every registered process (by its name); and, without a
%%% name, every application master and its helper, every supervisor of
%%% every running application, every worker of OTP's own applications
%%% (by name: kernel, stdlib, ssl, mnesia, ...), and the group leader of
%%% every process above (I/O servers).
%%%
%%% Registrations and process starts send no notification, so the set is
%%% recomputed: at start, every `protected_refresh_ms' (application
%%% environment, default 1000), and (asynchronously) whenever a connection
%%% is set up. It is pushed to the NIF only when it changed. A process
%%% registered or started since the last refresh is judged as an ordinary
%%% process until the next one (at most one interval); the cost of a
%%% refresh is `registered()' plus one `which_children' call per
%%% supervisor, never a scan of every process.
%%%
%%% The policy asks {@link lookup/1} (an ETS read) what a pid is.
-module(erldist_filter_protected).
-behaviour(gen_server).

-export([child_spec/0]).
-export([start_link/0]).
-export([refresh/0]).
-export([refresh_sync/0]).
-export([lookup/1]).
-export([compute/0]).
%% gen_server
-export([init/1, handle_continue/2, handle_call/3, handle_cast/2, handle_info/2]).

-define(TABLE, ?MODULE).
-define(DEFAULT_INTERVAL_MS, 1000).
%% A supervisor that does not answer in this time is skipped this round.
-define(CALL_TIMEOUT_MS, 200).

-type guard() :: {named, atom()} | unnamed | unprotected.
-export_type([guard/0]).

%% @doc Child spec for `erldist_filter_sup'.
-spec child_spec() -> supervisor:child_spec().
child_spec() ->
    #{id => ?MODULE, start => {?MODULE, start_link, []}, restart => permanent,
      shutdown => 5000, type => worker, modules => [?MODULE]}.

%% @doc Start and register the refresher.
-spec start_link() -> gen_server:start_ret().
start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% @doc Ask for a refresh now (asynchronous; a no-op when not running).
-spec refresh() -> ok.
refresh() ->
    case whereis(?MODULE) of
        Pid when is_pid(Pid) -> gen_server:cast(Pid, refresh);
        undefined -> ok
    end.

%% @doc Refresh now and return how many pids are protected.
-spec refresh_sync() -> non_neg_integer().
refresh_sync() ->
    gen_server:call(?MODULE, refresh, infinity).

%% @doc What `Pid' is: a registered protected process, an unnamed one, or
%% neither (as of the last refresh).
-spec lookup(pid()) -> guard().
lookup(Pid) ->
    try ets:lookup(?TABLE, Pid) of
        [{_, undefined}] -> unnamed;
        [{_, Name}] -> {named, Name};
        [] -> unprotected
    catch
        error:badarg -> unprotected
    end.

%% @doc The protected processes now: pid to registered name or `undefined'.
-spec compute() -> #{pid() => atom()}.
compute() ->
    Named = maps:from_list([{Pid, Name} || Name <- registered(),
                                           Pid <- [whereis(Name)], is_pid(Pid)]),
    Tree = lists:foldl(fun app_processes/2, #{}, running_apps()),
    Procs = maps:merge(Tree, Named),
    GroupLeaders = [Gl || Pid <- maps:keys(Procs),
                          {group_leader, Gl} <- [erlang:process_info(Pid, group_leader)],
                          node(Gl) =:= node()],
    maps:merge(maps:from_list([{Gl, undefined} || Gl <- GroupLeaders]), Procs).

%%% gen_server

%% @private
init([]) ->
    _ = ets:new(?TABLE, [named_table, protected, set, {read_concurrency, true}]),
    %% Compute after init: our own supervisor answers which_children only
    %% once it has started us.
    {ok, #{pushed => undefined}, {continue, refresh}}.

%% @private
handle_continue(refresh, State) ->
    {noreply, schedule(push(compute(), State))}.

%% @private
handle_call(refresh, _From, State) ->
    New = push(compute(), State),
    {reply, ets:info(?TABLE, size), New}.

%% @private
handle_cast(refresh, State) ->
    {noreply, push(compute(), State)}.

%% @private
handle_info(tick, State) ->
    {noreply, schedule(push(compute(), State))};
handle_info(_Other, State) ->
    {noreply, State}.

%%% Internals

schedule(State) ->
    Ms = case application:get_env(erldist_filter, protected_refresh_ms, ?DEFAULT_INTERVAL_MS) of
             N when is_integer(N), N > 0 -> N;
             _ -> ?DEFAULT_INTERVAL_MS
         end,
    _ = erlang:send_after(Ms, self(), tick),
    State.

%% Hand the set to the NIF and the table, if it or the node's identity
%% changed (a node that starts distribution renames every pid).
push(Procs, State = #{pushed := Pushed}) ->
    Key = {node(), Procs},
    case Key =:= Pushed of
        true ->
            State;
        false ->
            Entries = [{Id, Serial, Name} || {Pid, Name} <- maps:to_list(Procs),
                                             {Id, Serial, _} <- [pid_fields(Pid)]],
            Creation = case maps:keys(Procs) of
                           [Any | _] -> element(3, pid_fields(Any));
                           [] -> 0
                       end,
            ok = erldist_filter_nif:protected_set(node(), Creation, Entries),
            ets:insert(?TABLE, maps:to_list(Procs)),
            [ets:delete(?TABLE, Pid) || {Pid, _} <- ets:tab2list(?TABLE),
                                        not maps:is_key(Pid, Procs)],
            State#{pushed := Key}
    end.

%% The pid's id, serial and creation as remote nodes write them.
pid_fields(Pid) ->
    Bin = term_to_binary(Pid, [{minor_version, 2}]),
    Size = byte_size(Bin) - 12,
    <<_:Size/binary, Id:32, Serial:32, Creation:32>> = Bin,
    {Id, Serial, Creation}.

%% Loaded applications with a master: no call to application_controller.
running_apps() ->
    [{App, Master} || {App, _, _} <- application:loaded_applications(),
                      Master <- [application_controller:get_master(App)],
                      is_pid(Master)].

%% An application's master, its helper and supervision tree (workers
%% only for OTP's own applications).
app_processes({App, Master}, Acc0) ->
    Otp = is_otp_app(App),
    Acc1 = Acc0#{Master => undefined},
    Helpers = [P || P <- links(Master), is_pid(P), node(P) =:= node(),
                    erlang:process_info(P, initial_call) =:= {initial_call, {application_master, start_it, 4}}],
    lists:foldl(fun(Helper, Acc) ->
                        Tops = [P || P <- links(Helper), is_pid(P), P =/= Master],
                        lists:foldl(fun(Top, A) -> tree(Top, Otp, A) end, Acc#{Helper => undefined}, Tops)
                end, Acc1, Helpers).

tree(Sup, Otp, Acc) ->
    case is_supervisor(Sup) of
        false when Otp -> Acc#{Sup => undefined};
        false -> Acc;
        true ->
            lists:foldl(fun({_Id, Child, supervisor, _}, A) when is_pid(Child) ->
                                tree(Child, Otp, A);
                           ({_Id, Child, worker, _}, A) when is_pid(Child), Otp ->
                                A#{Child => undefined};
                           (_, A) ->
                                A
                        end, Acc#{Sup => undefined}, children(Sup))
    end.

children(Sup) ->
    try gen_server:call(Sup, which_children, ?CALL_TIMEOUT_MS)
    catch exit:_ -> []
    end.

is_supervisor(Pid) ->
    case erlang:process_info(Pid, dictionary) of
        {dictionary, Dict} ->
            case lists:keyfind('$initial_call', 1, Dict) of
                {_, {supervisor, _, _}} -> true;
                _ -> false
            end;
        undefined -> false
    end.

links(Pid) ->
    case erlang:process_info(Pid, links) of
        {links, Links} -> Links;
        undefined -> []
    end.

%% OTP's applications by name: a release puts every application under
%% `code:lib_dir()', so the directory cannot tell OTP's from the user's.
is_otp_app(App) ->
    lists:member(App, [asn1, common_test, compiler, crypto, debugger, dialyzer, diameter,
                       edoc, eldap, erl_interface, erts, et, eunit, ftp, inets, jinterface,
                       kernel, megaco, mnesia, observer, odbc, os_mon, parsetools, public_key,
                       reltool, runtime_tools, sasl, snmp, ssh, ssl, stdlib, syntax_tools,
                       tftp, tools, wx, xmerl]).

%%% @doc User-facing entry points of erldist_filter.
%%%
%%% <ul>
%%% <li>`config_reload/0': apply the application environment after
%%%     `application:set_env/3' at run time (the application's start does
%%%     the same); a wrong key or value is refused with
%%%     `{error, {invalid_config, Key, Value, ValidChoices}}'.</li>
%%% <li>`handler_get/0', `handler_set/1': the module deciding on
%%%     redirected operations and inspected spawn requests.</li>
%%% <li>`world_stats_print/0': what the filter on this node saw.</li>
%%% <li>`peer_certificate/1': who a TLS peer proved to be.</li>
%%% </ul>
%%% Switches, limits, channels and raw statistics are in
%%% `erldist_filter_nif'; the safe policy in `erldist_filter_policy'.
%%%
%%% The handler module (see the `erldist_filter_handler' behaviour) decides
%%% what happens to redirected distribution operations and to every
%%% inspected spawn request. It is kept in a `persistent_term' and read on
%%% every redirected message and every redirected spawn, so it can be
%%% swapped while traffic flows. With no handler, the built-in hints apply
%%% (drop what they call `drop', keep the rest) and spawn requests run
%%% their original function.
-module(erldist_filter).

-export([config_reload/0]).
-export([handler_get/0]).
-export([handler_set/1]).
-export([peer_certificate/1]).
-export([world_stats_print/0]).

-define(HANDLER_KEY, erldist_filter_handler).

%% @doc Apply the application environment now, as the application's start
%% does: after `application:set_env(erldist_filter, ...)' at run time.
%% Every key and value is checked first; with a wrong one nothing changes
%% and `{error, {invalid_config, Key, Value, ValidChoices}}' is returned.
%% The environment is the whole truth: switches and limits it does not set
%% return to their defaults, and the handler to its `handler' entry (or
%% none). Logs, and returns, what is in force; or logs why it refuses.
-spec config_reload() -> {ok, erldist_filter_config:in_force()}
                             | {error, erldist_filter_config:invalid() | {nif_not_loaded, term()}}.
config_reload() ->
    case erldist_filter_config:reload() of
        {ok, InForce} = Ok ->
            logger:notice("~ts", [erldist_filter_config:format(InForce)], #{domain => [erldist_filter, config]}),
            Ok;
        {error, Reason} = Error ->
            logger:error("erldist_filter configuration refused, nothing changed: ~0tp", [Reason],
                         #{domain => [erldist_filter, config]}),
            Error
    end.

%% @doc The handler module, or `undefined' when none is set.
-spec handler_get() -> undefined | module().
handler_get() ->
    case persistent_term:get(?HANDLER_KEY, undefined) of
        Handler when is_atom(Handler) -> Handler;
        _ -> undefined
    end.

%% @doc Set (or with `undefined', clear) the handler module; returns the
%% previous one. The module is loaded if it can be, so the first messages
%% do not pay for it.
-spec handler_set(Handler :: undefined | module()) -> OldHandler :: undefined | module().
handler_set(Handler) when is_atom(Handler) ->
    Old = handler_get(),
    case Handler of
        undefined -> _ = persistent_term:erase(?HANDLER_KEY);
        _ -> _ = code:ensure_loaded(Handler), persistent_term:put(?HANDLER_KEY, Handler)
    end,
    Old.

%% @doc The certificate identity of `Node''s connection, when it is
%% connected over the TLS carrier (`-proto_dist erldist_filter_inet_tls')
%% and presented a certificate: `subject', `issuer' (lists of `{Type,
%% Value}' attributes, e.g. `{cn, <<"node-a">>}'), `subject_alt_names'
%% (e.g. `{dns, <<"a.example">>}', `{ip, {127,0,0,1}}') and the DER
%% `certificate'. A node name can be claimed by anyone; its certificate
%% only by the holder of the key. See {@link erldist_filter_peer_cert}.
-spec peer_certificate(node()) -> {ok, erldist_filter_peer_cert:identity()} | undefined.
peer_certificate(Node) when is_atom(Node) ->
    erldist_filter_peer_cert:lookup(Node).

%% @doc Print what the filter on this node saw: the non-zero counters of
%% every channel (open and closed), then each connected node's open channel
%% (see `erldist_filter_stats'). The raw maps are
%% `erldist_filter_nif:world_stats_get/0' and `channel_inspect/1'.
-spec world_stats_print() -> ok.
world_stats_print() ->
    io:put_chars(erldist_filter_stats:format()).

%%% erldist_filter:world_stats_print/0 (erldist_filter_stats): after real
%%% traffic between two peers, the receiving node's text names the sender
%%% and its non-zero counters.
-module(erldist_filter_stats_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, suite/0]).
-export([counters_after_traffic/1]).
-export([prints_on_the_shell/1]).

suite() ->
    [{timetrap, {minutes, 2}}].

all() ->
    [counters_after_traffic, prints_on_the_shell].

counters_after_traffic(_Config) ->
    {ok, [A, B]} = edf_test_peer:start_many(2, #{prefix => "stats"}),
    try
        #{pid := APid, node := ANode} = A,
        #{pid := BPid, node := BNode} = B,
        pong = peer:call(APid, net_adm, ping, [BNode]),
        %% The ping's reply came over B's only channel: B has read A's
        %% request by now.
        Text = unicode:characters_to_list(peer:call(BPid, erldist_filter_stats, format, [])),
        ct:pal("~ts", [Text]),
        ?assertMatch({match, _}, re:run(Text, "^erldist_filter on " ++ re_quote(BNode))),
        ?assertMatch({match, _}, re:run(Text, "channel\\.create +1\n")),
        ?assertMatch({match, _}, re:run(Text, "channel\\.rx_stats\\.dop_reg_send\\.seen +[1-9]")),
        ?assertMatch({match, _}, re:run(Text, "\nfrom " ++ re_quote(ANode) ++ " \\(owner ")),
        %% Zeros are left out.
        ?assertEqual(nomatch, re:run(Text, " 0\n"))
    after
        edf_test_peer:stop_all([A, B])
    end.

%% On this (undistributed) node: the same text, on standard output.
prints_on_the_shell(_Config) ->
    ok = ct:capture_start(),
    ok = erldist_filter:world_stats_print(),
    ok = ct:capture_stop(),
    ?assertMatch(["erldist_filter on nonode@nohost, every channel" ++ _ | _], ct:capture_get()).

re_quote(Atom) ->
    re:replace(atom_to_list(Atom), "[.@]", "\\\\&", [global, {return, list}]).

%%% The NIF's switches, for suites that set them per case.
-module(edf_test_switches).

-export([all/0, all_off/0]).

-define(SWITCHES, [compact_fragments, deep_packet_inspection, logging, otp_name_blocklist,
                   redirect_dist_operations, untrusted]).

%% Every switch's name.
all() ->
    ?SWITCHES.

%% Every switch off: the state each case starts from and leaves behind.
all_off() ->
    [ok = erldist_filter_nif:config_set(K, false) || K <- ?SWITCHES],
    ok.

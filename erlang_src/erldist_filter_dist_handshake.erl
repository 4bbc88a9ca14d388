%%% @doc Learns what a distribution handshake negotiated by watching its messages.
%%%
%%% Stock `dist_util' keeps the negotiated flags and the peer's creation in
%%% its `#hs_data{}' and never hands them to the carrier (OTP 25's
%%% `f_handshake_complete' gets only Socket, Node and DHandle). The carrier
%%% sees every handshake message pass through its `f_send'/`f_recv' funs,
%%% so it feeds them here and computes the result the way `dist_util'
%%% does: `ThisFlags band expand_mandatory_25_flag(OtherFlags)'.
%%%
%%% Which message carries what depends on who started the connection:
%%%
%%% | role   | we send                       | we receive                    |
%%% |--------|-------------------------------|-------------------------------|
%%% | setup  | 'N' name: Flags, Creation     | 'N' challenge: Flags, Chal,   |
%%% |        |                               |   Creation (the peer's)       |
%%% | accept | 'N' challenge: Flags, Chal,   | 'N' name: Flags, Creation     |
%%% |        |   Creation; 's' "named:" with |   (the peer's)                |
%%% |        |   the creation we assigned    |                               |
%%%
%%% The old 'n' messages carry 32-bit flags and no creation (0 = unknown).
%%% An OTP 23/24 node that does not know its peer's version sends its name
%%% as 'n' and, once told the peer speaks the new protocol, the rest in a
%%% complement 'c' (the high flags and its creation); OTP 25.3 and later
%%% accept that again, so the accepting side reads both. Status ('s'),
%%% reply ('r') and ack ('a') messages carry neither.
%%%
%%% From OTP 29 `dist_util' hands the carrier the negotiated flags and
%%% creation itself (see `erldist_filter_dist_ctrl'); this observer serves
%%% the releases before.
%%% @hidden Part of the filtering carrier, not an API.
-module(erldist_filter_dist_handshake).

-include_lib("kernel/include/dist.hrl").

-export([new/1]).
-export([sent/2]).
-export([received/2]).
-export([negotiated/1]).

-type role() :: setup | accept.
-opaque state() :: #{role := role(),
                     this_flags := undefined | non_neg_integer(),
                     other_flags := undefined | non_neg_integer(),
                     other_creation := undefined | non_neg_integer()}.
-export_type([role/0, state/0]).

%% @doc A fresh observer for a connection we set up or accepted.
-spec new(role()) -> state().
new(Role) when Role =:= setup; Role =:= accept ->
    #{role => Role, this_flags => undefined, other_flags => undefined,
      other_creation => undefined}.

%% @doc Observe a handshake message we are about to send.
-spec sent(iodata(), state()) -> state().
sent(Packet, State = #{role := Role}) ->
    sent(Role, iolist_to_binary(Packet), State).

sent(setup, <<$N, Flags:64, _Creation:32, _/binary>>, State) ->
    State#{this_flags := Flags};
sent(accept, <<$N, Flags:64, _Challenge:32, _Creation:32, _/binary>>, State) ->
    State#{this_flags := Flags};
sent(setup, <<$n, _Version:16, Flags:32, _/binary>>, State) ->
    State#{this_flags := Flags};
sent(accept, <<$n, _Version:16, Flags:32, _Challenge:32, _/binary>>, State) ->
    State#{this_flags := Flags};
sent(accept, <<$s, "named:", Len:16, _Name:Len/binary, Creation:32, _/binary>>,
     State) ->
    %% A dynamically named peer gets its creation from us, not from its
    %% name message.
    State#{other_creation := Creation};
sent(_Role, _Other, State) ->
    State.

%% @doc Observe a handshake message we received.
-spec received(iodata(), state()) -> state().
received(Packet, State = #{role := Role}) ->
    received(Role, iolist_to_binary(Packet), State).

received(accept, <<$N, Flags:64, Creation:32, _/binary>>, State) ->
    State#{other_flags := Flags, other_creation := Creation};
received(setup, <<$N, Flags:64, _Challenge:32, Creation:32, _/binary>>, State) ->
    State#{other_flags := Flags, other_creation := Creation};
received(accept, <<$n, _Version:16, Flags:32, _/binary>>, State) ->
    State#{other_flags := Flags, other_creation := 0};
received(setup, <<$n, _Version:16, Flags:32, _Challenge:32, _/binary>>, State) ->
    State#{other_flags := Flags, other_creation := 0};
received(accept, <<$c, FlagsHigh:32, Creation:32>>, State = #{other_flags := Flags})
  when is_integer(Flags) ->
    State#{other_flags := Flags bor (FlagsHigh bsl 32), other_creation := Creation};
received(_Role, _Other, State) ->
    State.

%% @doc The flags both sides agreed on and the peer's creation, once both
%% name/challenge messages have been seen.
-spec negotiated(state()) ->
    {ok, Flags :: non_neg_integer(), OtherCreation :: non_neg_integer()}
    | {error, incomplete}.
negotiated(#{this_flags := This, other_flags := Other, other_creation := Creation})
  when is_integer(This), is_integer(Other), is_integer(Creation) ->
    {ok, This band expand_mandatory_25(Other), Creation};
negotiated(_State) ->
    {error, incomplete}.

%% From OTP 25 one digest bit stands for the whole OTP 25 mandatory set;
%% `dist_util' widens the peer's flags the same way before the `band'.
expand_mandatory_25(Flags) when Flags band ?DFLAG_MANDATORY_25_DIGEST =/= 0 ->
    Flags bor ?MANDATORY_DFLAGS_25;
expand_mandatory_25(Flags) ->
    Flags.

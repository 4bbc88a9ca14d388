%%% A hostile distribution peer, for tests: it completes a real OTP 25
%%% distribution handshake with a (filtered) node over loopback, then lets
%%% the test write any bytes it likes on the raw socket.
%%%
%%% The handshake is the one `dist_util' runs when it sets up a connection
%%% (distribution version 6, "handshake 23"), each message behind a 2-byte
%%% length (`{packet, 2}'):
%%%
%%%   we send    'N' Flags:64 Creation:32 NameLen:16 Name
%%%   we receive 's' Status                 ("ok" | "ok_simultaneous")
%%%   we receive 'N' Flags:64 ChallengeA:32 Creation:32 NameLen:16 Name
%%%   we send    'r' ChallengeB:32 md5(Cookie ++ integer_to_list(ChallengeA))
%%%   we receive 'a' md5(Cookie ++ integer_to_list(ChallengeB))
%%%
%%% After that the socket is switched to raw mode: OTP frames every packet
%%% with a 4-byte length (a zero length is a tick), and `frame/1' does the
%%% same, but `send_raw/2' writes exactly the bytes it is given, so a test
%%% can send half a packet, a lying length or garbage. Nothing is ticked
%%% unless asked (`tick/1', or the `autotick' option, which must not be
%%% used while a packet is half sent).
%%%
%%% Whatever the victim sends us is read and thrown away (counted), so it
%%% never blocks on us; `closed/1' and `wait_closed/2' tell whether the
%%% victim has closed the connection.
%%%
%%% The victim is found as the test nodes find each other
%%% (`edf_test_epmd'): its port is the `_p<Port>' suffix of its name.
%%%
%%% The frame builders below mirror those of the core's unit tests
%%% (`native/erldist_filter_core/tests/hostile.rs'): headers with an
%%% atom-cache reference table ('D'), fragment headers ('E') and
%%% continuations ('F'); control messages and payloads in internal encoding
%%% (no version magic).
-module(edf_hostile_peer).

%% Connection
-export([connect/1]).
-export([connect/2]).
-export([send_raw/2]).
-export([send_frame/2]).
-export([tick/1]).
-export([closed/1]).
-export([wait_closed/2]).
-export([close/1]).
-export([node_name/1]).
-export([received_bytes/1]).
-export([close_reason/1]).
-export([default_flags/0]).

%% Frame builders
-export([frame/1]).
-export([atom_table/1]).
-export([atom_table/2]).
-export([frame_normal/3]).
-export([frame_frag_header/5]).
-export([frame_frag_cont/3]).
-export([pid/2]).
-export([term/1]).
-export([reg_send_refs/1]).
-export([reg_send_control/3]).
-export([link_control/1]).
-export([reg_send/3]).
-export([deep_list/1]).

%% Spawned
-export([owner_init/3]).

-define(DFLAG_PUBLISHED, 16#01).
-define(DFLAG_DIST_HDR_ATOM_CACHE, 16#2000).
-define(DFLAG_FRAGMENTS, 16#800000).
%% erts_internal:get_dflags() default of OTP 25 (0xD07DF7FBC): every
%% mandatory OTP 25 flag plus atom-cache headers, fragments, spawn, alias,
%% v4 node containers, unlink ids... Published as a normal node's are.
-define(OTP25_DEFAULT_DFLAGS, 16#D07DF7FBC).

-define(HANDSHAKE_TIMEOUT, 10000).

-type ref() :: {new, 0..2047, binary()} | {old, 0..2047}.
-type conn() :: #{pid := pid(), socket := port(), node := node(),
                  victim := node(), flags := non_neg_integer()}.
-type options() :: #{cookie => atom(),
                     name => node(),
                     flags => non_neg_integer(),
                     published => boolean(),
                     creation => pos_integer(),
                     autotick => false | pos_integer(),
                     send_timeout => timeout()}.
-export_type([conn/0, options/0, ref/0]).

%%% Connection

%% @doc OTP 25's default distribution flags, as a hidden node sends them
%% (`published => true' in `connect/2' adds DFLAG_PUBLISHED, as a normal
%% node does). Hidden by default: the victim's `global' then leaves the
%% hostile connection alone (it would otherwise try to sync with a node
%% that never answers, and with `prevent_overlapping_partitions' may
%% disconnect it when another hostile connection goes down).
-spec default_flags() -> non_neg_integer().
default_flags() ->
    ?OTP25_DEFAULT_DFLAGS.

%% @equiv connect(Victim, #{})
-spec connect(node()) -> {ok, conn()} | {error, term()}.
connect(Victim) ->
    connect(Victim, #{}).

%% @doc Connect to `Victim' and complete the handshake. Defaults: cookie
%% `edf_test', a fresh name `edf_hostile_<N>@127.0.0.1', OTP 25 default
%% flags of a hidden node, no autotick.
-spec connect(node(), options()) -> {ok, conn()} | {error, term()}.
connect(Victim, Options) ->
    Cookie = maps:get(cookie, Options, edf_test),
    Name = maps:get(name, Options, fresh_name()),
    Flags = maps:get(flags, Options,
                     case maps:get(published, Options, false) of
                         true -> default_flags() bor ?DFLAG_PUBLISHED;
                         false -> default_flags()
                     end),
    Creation = maps:get(creation, Options, 4 + rand:uniform(16#fffffff0)),
    {Ip, Port} = address(Victim),
    SocketOptions = [binary, {packet, 2}, {active, false}, {nodelay, true},
                     {send_timeout, maps:get(send_timeout, Options, 60000)},
                     {send_timeout_close, true}],
    case gen_tcp:connect(Ip, Port, SocketOptions, ?HANDSHAKE_TIMEOUT) of
        {ok, Socket} ->
            try handshake(Socket, Victim, Name, Flags, Creation, Cookie) of
                ok ->
                    ok = inet:setopts(Socket, [{packet, raw}]),
                    start_owner(Socket, Victim, Name, Flags, Options)
            catch
                throw:Reason ->
                    _ = gen_tcp:close(Socket),
                    {error, Reason}
            end;
        {error, _} = Error ->
            Error
    end.

%% @doc Write `Bytes' as they are (no framing added).
-spec send_raw(conn(), iodata()) -> ok | {error, term()}.
send_raw(#{socket := Socket}, Bytes) ->
    gen_tcp:send(Socket, Bytes).

%% @doc Write one frame behind its 4-byte length, as OTP does.
-spec send_frame(conn(), iodata()) -> ok | {error, term()}.
send_frame(Conn, Frame) ->
    send_raw(Conn, frame(Frame)).

%% @doc Write one tick (an empty packet).
-spec tick(conn()) -> ok | {error, term()}.
tick(Conn) ->
    send_raw(Conn, <<0:32>>).

%% @doc Whether the victim has closed the connection (or it failed).
-spec closed(conn()) -> boolean().
closed(Conn) ->
    request(Conn, closed).

%% @doc Wait up to `Timeout' ms for the victim to close the connection.
-spec wait_closed(conn(), timeout()) -> boolean().
wait_closed(Conn = #{pid := Pid}, Timeout) ->
    Ref = erlang:monitor(process, Pid),
    Pid ! {wait_closed, self(), Ref},
    receive
        {Ref, Closed} ->
            erlang:demonitor(Ref, [flush]),
            Closed;
        {'DOWN', Ref, process, Pid, _} ->
            true
    after Timeout ->
        erlang:demonitor(Ref, [flush]),
        closed(Conn)
    end.

%% @doc Close our end (idempotent).
-spec close(conn()) -> ok.
close(#{pid := Pid, socket := Socket}) ->
    _ = gen_tcp:close(Socket),
    Pid ! stop,
    ok.

%% @doc Our node name, as the victim knows us.
-spec node_name(conn()) -> node().
node_name(#{node := Node}) ->
    Node.

%% @doc How many bytes the victim has sent us since the handshake.
-spec received_bytes(conn()) -> non_neg_integer().
received_bytes(Conn) ->
    request(Conn, received).

%% @doc How the connection ended: `tcp_closed', `{tcp_error, Reason}', or
%% `undefined' while open.
-spec close_reason(conn()) -> tcp_closed | {tcp_error, term()} | undefined.
close_reason(Conn) ->
    request(Conn, close_reason).

fresh_name() ->
    list_to_atom("edf_hostile_" ++ integer_to_list(erlang:unique_integer([positive]))
                 ++ "@127.0.0.1").

address(Victim) ->
    [Name, Host] = string:split(atom_to_list(Victim), "@"),
    Family = case inet:parse_address(Host) of
                 {ok, {_, _, _, _, _, _, _, _}} -> inet6;
                 _ -> inet
             end,
    {ok, Ip} = inet:getaddr(Host, Family),
    {Ip, edf_test_epmd:port_of(Name)}.

handshake(Socket, Victim, Name, Flags, Creation, Cookie) ->
    NameBin = atom_to_binary(Name, latin1),
    send_hs(Socket, <<$N, Flags:64, Creation:32, (byte_size(NameBin)):16, NameBin/binary>>),
    case recv_hs(Socket) of
        <<$s, "ok">> -> ok;
        <<$s, "ok_simultaneous">> -> ok;
        <<$s, Status/binary>> -> throw({status, Status});
        Other -> throw({expected_status, Other})
    end,
    VictimBin = atom_to_binary(Victim, latin1),
    ChallengeA =
        case recv_hs(Socket) of
            <<$N, _OtherFlags:64, Challenge:32, _OtherCreation:32,
              NameLen:16, VictimBin:NameLen/binary>> ->
                Challenge;
            Other2 ->
                throw({expected_challenge, Other2})
        end,
    ChallengeB = rand:uniform(16#ffffffff) - 1,
    send_hs(Socket, [<<$r, ChallengeB:32>>, digest(ChallengeA, Cookie)]),
    Expected = digest(ChallengeB, Cookie),
    case recv_hs(Socket) of
        <<$a, Expected/binary>> -> ok;
        <<$a, _/binary>> -> throw(bad_challenge_ack);
        Other3 -> throw({expected_ack, Other3})
    end.

digest(Challenge, Cookie) ->
    erlang:md5([atom_to_list(Cookie) | integer_to_list(Challenge)]).

send_hs(Socket, Packet) ->
    case gen_tcp:send(Socket, Packet) of
        ok -> ok;
        {error, Reason} -> throw({handshake_send, Reason})
    end.

recv_hs(Socket) ->
    case gen_tcp:recv(Socket, 0, ?HANDSHAKE_TIMEOUT) of
        {ok, Packet} -> Packet;
        {error, Reason} -> throw({handshake_recv, Reason})
    end.

%% The socket's owner reads and discards what the victim sends.
start_owner(Socket, Victim, Name, Flags, Options) ->
    Parent = self(),
    Pid = spawn(?MODULE, owner_init, [Parent, Socket, maps:get(autotick, Options, false)]),
    ok = gen_tcp:controlling_process(Socket, Pid),
    Pid ! {go, Parent},
    {ok, #{pid => Pid, socket => Socket, node => Name, victim => Victim, flags => Flags}}.

%% @private
owner_init(Parent, Socket, Autotick) ->
    receive {go, Parent} -> ok end,
    ok = inet:setopts(Socket, [{active, true}]),
    _ = schedule_tick(Autotick),
    owner_loop(#{socket => Socket, closed => false, received => 0, waiting => [],
                 autotick => Autotick}).

owner_loop(State = #{socket := Socket, received := Received}) ->
    receive
        {tcp, Socket, Data} ->
            owner_loop(State#{received := Received + byte_size(Data)});
        {tcp_closed, Socket} ->
            owner_loop(now_closed(State#{close_reason => tcp_closed}));
        {tcp_error, Socket, Reason} ->
            owner_loop(now_closed(State#{close_reason => {tcp_error, Reason}}));
        {wait_closed, From, Ref} ->
            case State of
                #{closed := true} ->
                    From ! {Ref, true},
                    owner_loop(State);
                #{waiting := Waiting} ->
                    owner_loop(State#{waiting := [{From, Ref} | Waiting]})
            end;
        {request, From, Ref, closed} ->
            From ! {Ref, maps:get(closed, State)},
            owner_loop(State);
        {request, From, Ref, received} ->
            From ! {Ref, Received},
            owner_loop(State);
        {request, From, Ref, close_reason} ->
            From ! {Ref, maps:get(close_reason, State, undefined)},
            owner_loop(State);
        autotick ->
            _ = case State of
                    #{closed := false, autotick := Ms} ->
                        _ = gen_tcp:send(Socket, <<0:32>>),
                        schedule_tick(Ms);
                    _ ->
                        ok
                end,
            owner_loop(State);
        stop ->
            _ = gen_tcp:close(Socket),
            ok
    end.

now_closed(State = #{waiting := Waiting}) ->
    [From ! {Ref, true} || {From, Ref} <- Waiting],
    State#{closed := true, waiting := []}.

schedule_tick(false) -> ok;
schedule_tick(Ms) -> erlang:send_after(Ms, self(), autotick).

request(#{pid := Pid}, What) ->
    Ref = erlang:monitor(process, Pid),
    Pid ! {request, self(), Ref, What},
    receive
        {Ref, Answer} ->
            erlang:demonitor(Ref, [flush]),
            Answer;
        {'DOWN', Ref, process, Pid, _} when What =:= closed ->
            true;
        {'DOWN', Ref, process, Pid, Reason} ->
            error({hostile_peer_down, Reason})
    end.

%%% Frame builders

%% @doc `Frame' behind a 4-byte big-endian length.
-spec frame(iodata()) -> iolist().
frame(Frame) ->
    [<<(iolist_size(Frame)):32>>, Frame].

%% @doc The reference table of a 'D'/'E' header: count, flag nibbles (even
%% entries in the low half-byte, then one nibble whose bit 0 says "long
%% lengths"), entries. Long (2-byte) lengths are used when any text is over
%% 255 bytes.
-spec atom_table([ref()]) -> binary().
atom_table(Refs) ->
    Long = lists:any(fun({new, _, Text}) -> byte_size(Text) > 255; (_) -> false end, Refs),
    atom_table(Refs, Long).

%% @doc As `atom_table/1' with the long flag given.
-spec atom_table([ref()], boolean()) -> binary().
atom_table([], _Long) ->
    <<0>>;
atom_table(Refs, Long) when length(Refs) =< 255 ->
    Nibbles0 = [case R of
                    {new, I, _} -> 8 bor ((I bsr 8) band 7);
                    {old, I} -> (I bsr 8) band 7
                end || R <- Refs] ++ [case Long of true -> 1; false -> 0 end],
    Nibbles = case length(Nibbles0) rem 2 of
                  1 -> Nibbles0 ++ [0];
                  0 -> Nibbles0
              end,
    FlagBytes = pair_nibbles(Nibbles),
    Entries = [case R of
                   {new, I, Text} when Long ->
                       <<(I band 255), (byte_size(Text)):16, Text/binary>>;
                   {new, I, Text} ->
                       <<(I band 255), (byte_size(Text)):8, Text/binary>>;
                   {old, I} ->
                       <<(I band 255)>>
               end || R <- Refs],
    iolist_to_binary([length(Refs), FlagBytes | Entries]).

pair_nibbles([Lo, Hi | Rest]) -> [Lo bor (Hi bsl 4) | pair_nibbles(Rest)];
pair_nibbles([]) -> [].

%% @doc A normal 'D' frame: header with `Refs', then control and payload.
-spec frame_normal([ref()], iodata(), iodata()) -> iolist().
frame_normal(Refs, Control, Payload) ->
    [<<131, $D>>, atom_table(Refs), Control, Payload].

%% @doc A fragment header 'E' of sequence `Seq' announcing `Fragments'.
-spec frame_frag_header(non_neg_integer(), non_neg_integer(), [ref()], iodata(), iodata()) ->
    iolist().
frame_frag_header(Seq, Fragments, Refs, Control, Payload) ->
    [<<131, $E, Seq:64, Fragments:64>>, atom_table(Refs), Control, Payload].

%% @doc A fragment continuation 'F'.
-spec frame_frag_cont(non_neg_integer(), non_neg_integer(), iodata()) -> iolist().
frame_frag_cont(Seq, Fragment, Bytes) ->
    [<<131, $F, Seq:64, Fragment:64>>, Bytes].

%% @doc NEW_PID_EXT whose node is header reference `NodeRef'.
-spec pid(0..254, non_neg_integer()) -> binary().
pid(NodeRef, Id) ->
    <<88, 82, NodeRef, Id:32, 0:32, 7:32>>.

%% @doc A term in internal encoding (its external encoding minus the
%% version magic; atoms as UTF-8 atom tags, no cache references).
-spec term(term()) -> binary().
term(Term) ->
    <<131, Bin/binary>> = term_to_binary(Term, [{minor_version, 2}]),
    Bin.

%% @doc The three new references a REG_SEND from `Node' to `Name' needs:
%% 0 = our node, 1 = '', 2 = `Name' (cache slots 1, 2, 3).
-spec reg_send_refs({node(), atom()}) -> [ref()].
reg_send_refs({Node, Name}) ->
    [{new, 1, atom_to_binary(Node, utf8)}, {new, 2, <<>>},
     {new, 3, atom_to_binary(Name, utf8)}].

%% @doc `{REG_SEND=6, From, '', ToName}', names as header references.
-spec reg_send_control(0..254, 0..254, 0..254) -> binary().
reg_send_control(NodeRef, EmptyRef, NameRef) ->
    <<104, 4, 97, 6, (pid(NodeRef, 1))/binary, 82, EmptyRef, 82, NameRef>>.

%% @doc `{LINK=1, From, To}' (both pids of node reference `NodeRef').
-spec link_control(0..254) -> binary().
link_control(NodeRef) ->
    <<104, 3, 97, 1, (pid(NodeRef, 1))/binary, (pid(NodeRef, 2))/binary>>.

%% @doc A whole valid REG_SEND 'D' frame from `Node' to `Name' on the
%% victim, carrying `Payload' (internal encoding).
-spec reg_send(node(), atom(), iodata()) -> iolist().
reg_send(Node, Name, Payload) ->
    frame_normal(reg_send_refs({Node, Name}), reg_send_control(0, 1, 2), Payload).

%% @doc The internal encoding of a list nested `Depth' deep: `[[[...[]]]]'.
-spec deep_list(pos_integer()) -> binary().
deep_list(Depth) ->
    %% LIST_EXT of one element, the next list; innermost NIL; then each
    %% level's NIL tail.
    Open = binary:copy(<<108, 1:32>>, Depth),
    iolist_to_binary([Open, binary:copy(<<106>>, Depth + 1)]).

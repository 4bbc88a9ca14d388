%%% @doc Distribution control messages as records (`include/udist.hrl').
%%%
%%% A raw control message is the tuple ERTS sends, headed by its integer
%%% DOP code (for example `{6, FromPid, '''', ToName}' for REG_SEND). Its
%%% record form replaces the code with the record name
%%% (`#udist_dop_reg_send{}'); ALTACT_SIG_SEND also moves its optional
%%% trace token into a `none | {some, Token}' field. Shapes that are no
%%% control message raise `function_clause'.
-module(udist).

-include("udist.hrl").

-export([cast_to_dop/1]).
-export([cast_to_dop_without_payload/1]).
-export([cast_to_dop_with_payload/1]).
-export([cast_to_raw_dop/1]).
-export([cast_to_raw_dop_without_payload/1]).
-export([cast_to_raw_dop_with_payload/1]).
-export([get_dop_group/1]).
-export([get_dop_name/1]).

-export_type([dop/0]).
-export_type([dop_without_payload/0]).
-export_type([dop_with_payload/0]).
-export_type([raw_dop/0]).
-export_type([dop_group/0]).
-export_type([dop_name/0]).

-type dop_without_payload() ::
    #udist_dop_demonitor_p{} | #udist_dop_exit{} | #udist_dop_exit2{} | #udist_dop_exit2_tt{}
  | #udist_dop_exit_tt{} | #udist_dop_group_leader{} | #udist_dop_link{} | #udist_dop_monitor_p{}
  | #udist_dop_monitor_p_exit{} | #udist_dop_spawn_reply{} | #udist_dop_spawn_reply_tt{}
  | #udist_dop_unlink{} | #udist_dop_unlink_id{} | #udist_dop_unlink_id_ack{}.
-type dop_with_payload() ::
    #udist_dop_alias_send{} | #udist_dop_alias_send_tt{} | #udist_dop_altact_sig_send{}
  | #udist_dop_payload_exit{} | #udist_dop_payload_exit_tt{} | #udist_dop_payload_exit2{}
  | #udist_dop_payload_exit2_tt{} | #udist_dop_payload_monitor_p_exit{} | #udist_dop_reg_send{}
  | #udist_dop_reg_send_tt{} | #udist_dop_send{} | #udist_dop_send_tt{} | #udist_dop_send_sender{}
  | #udist_dop_send_sender_tt{} | #udist_dop_spawn_request{} | #udist_dop_spawn_request_tt{}.
-type dop() :: dop_without_payload() | dop_with_payload().
%% A control tuple headed by its integer DOP code.
-type raw_dop() :: tuple().
-type dop_group() :: exit | exit2 | group_leader | link | monitor_related | send_to_alias
                   | send_to_name | send_to_pid | spawn_reply | spawn_request | unlink.
-type dop_name() :: atom().

%% Record name, DOP code, raw tuple size (with the code).
-define(WITHOUT_PAYLOAD,
        [{udist_dop_demonitor_p, ?DOP_DEMONITOR_P, 4},
         {udist_dop_exit, ?DOP_EXIT, 4},
         {udist_dop_exit2, ?DOP_EXIT2, 4},
         {udist_dop_exit2_tt, ?DOP_EXIT2_TT, 5},
         {udist_dop_exit_tt, ?DOP_EXIT_TT, 5},
         {udist_dop_group_leader, ?DOP_GROUP_LEADER, 3},
         {udist_dop_link, ?DOP_LINK, 3},
         {udist_dop_monitor_p, ?DOP_MONITOR_P, 4},
         {udist_dop_monitor_p_exit, ?DOP_MONITOR_P_EXIT, 5},
         {udist_dop_spawn_reply, ?DOP_SPAWN_REPLY, 5},
         {udist_dop_spawn_reply_tt, ?DOP_SPAWN_REPLY_TT, 6},
         {udist_dop_unlink, ?DOP_UNLINK, 3},
         {udist_dop_unlink_id, ?DOP_UNLINK_ID, 4},
         {udist_dop_unlink_id_ack, ?DOP_UNLINK_ID_ACK, 4}]).
-define(WITH_PAYLOAD,
        [{udist_dop_alias_send, ?DOP_ALIAS_SEND, 3},
         {udist_dop_alias_send_tt, ?DOP_ALIAS_SEND_TT, 4},
         {udist_dop_payload_exit, ?DOP_PAYLOAD_EXIT, 3},
         {udist_dop_payload_exit_tt, ?DOP_PAYLOAD_EXIT_TT, 4},
         {udist_dop_payload_exit2, ?DOP_PAYLOAD_EXIT2, 3},
         {udist_dop_payload_exit2_tt, ?DOP_PAYLOAD_EXIT2_TT, 4},
         {udist_dop_payload_monitor_p_exit, ?DOP_PAYLOAD_MONITOR_P_EXIT, 4},
         {udist_dop_reg_send, ?DOP_REG_SEND, 4},
         {udist_dop_reg_send_tt, ?DOP_REG_SEND_TT, 5},
         {udist_dop_send, ?DOP_SEND, 3},
         {udist_dop_send_tt, ?DOP_SEND_TT, 4},
         {udist_dop_send_sender, ?DOP_SEND_SENDER, 3},
         {udist_dop_send_sender_tt, ?DOP_SEND_SENDER_TT, 4},
         {udist_dop_spawn_request, ?DOP_SPAWN_REQUEST, 6},
         {udist_dop_spawn_request_tt, ?DOP_SPAWN_REQUEST_TT, 7}]).

%% @doc Raw control tuple (any DOP) to its record.
-spec cast_to_dop(raw_dop()) -> dop().
cast_to_dop(Raw) when is_tuple(Raw), tuple_size(Raw) >= 3, is_integer(element(1, Raw)) ->
    case lookup_code(element(1, Raw), tuple_size(Raw), ?WITHOUT_PAYLOAD ++ ?WITH_PAYLOAD) of
        {ok, Name} -> setelement(1, Raw, Name);
        error -> cast_altact(Raw)
    end.

%% @doc Raw control tuple to its record; only DOPs that travel without a
%% payload.
-spec cast_to_dop_without_payload(raw_dop()) -> dop_without_payload().
cast_to_dop_without_payload(Raw) when is_tuple(Raw), tuple_size(Raw) >= 3, is_integer(element(1, Raw)) ->
    case lookup_code(element(1, Raw), tuple_size(Raw), ?WITHOUT_PAYLOAD) of
        {ok, Name} -> setelement(1, Raw, Name);
        error -> erlang:error(function_clause, [Raw])
    end.

%% @doc Raw control tuple to its record; only DOPs that travel with a
%% payload (ALTACT_SIG_SEND included).
-spec cast_to_dop_with_payload(raw_dop()) -> dop_with_payload().
cast_to_dop_with_payload(Raw) when is_tuple(Raw), tuple_size(Raw) >= 3, is_integer(element(1, Raw)) ->
    case lookup_code(element(1, Raw), tuple_size(Raw), ?WITH_PAYLOAD) of
        {ok, Name} -> setelement(1, Raw, Name);
        error -> cast_altact(Raw)
    end.

%% @doc Record (any DOP) back to the raw control tuple.
-spec cast_to_raw_dop(dop()) -> raw_dop().
cast_to_raw_dop(Dop) when ?is_udist_dop_without_payload_t(Dop) ->
    cast_to_raw_dop_without_payload(Dop);
cast_to_raw_dop(Dop) when ?is_udist_dop_with_payload_t(Dop) ->
    cast_to_raw_dop_with_payload(Dop).

%% @doc Record back to the raw control tuple; only DOPs that travel without
%% a payload.
-spec cast_to_raw_dop_without_payload(dop_without_payload()) -> raw_dop().
cast_to_raw_dop_without_payload(Dop) when ?is_udist_dop_without_payload_t(Dop) ->
    {_, Code, _} = lists:keyfind(element(1, Dop), 1, ?WITHOUT_PAYLOAD),
    setelement(1, Dop, Code).

%% @doc Record back to the raw control tuple; only DOPs that travel with a
%% payload.
-spec cast_to_raw_dop_with_payload(dop_with_payload()) -> raw_dop().
cast_to_raw_dop_with_payload(#udist_dop_altact_sig_send{flags = Flags, sender_pid = Sender, to = To,
                                                        token = none}) ->
    {?DOP_ALTACT_SIG_SEND, Flags, Sender, To};
cast_to_raw_dop_with_payload(#udist_dop_altact_sig_send{flags = Flags, sender_pid = Sender, to = To,
                                                        token = {some, Token}}) ->
    {?DOP_ALTACT_SIG_SEND, Flags, Sender, To, Token};
cast_to_raw_dop_with_payload(Dop) when ?is_udist_dop_with_payload_t(Dop),
                                       not is_record(Dop, udist_dop_altact_sig_send) ->
    {_, Code, _} = lists:keyfind(element(1, Dop), 1, ?WITH_PAYLOAD),
    setelement(1, Dop, Code).

%% @doc The group a control message belongs to. ALTACT_SIG_SEND is grouped
%% by its flags, EXIT first, then ALIAS, then NAME, else a send to a pid.
-spec get_dop_group(dop()) -> dop_group().
get_dop_group(Dop) when ?is_udist_dop_exit_t(Dop) -> exit;
get_dop_group(Dop) when ?is_udist_dop_exit2_t(Dop) -> exit2;
get_dop_group(Dop) when ?is_udist_dop_group_leader_t(Dop) -> group_leader;
get_dop_group(Dop) when ?is_udist_dop_link_t(Dop) -> link;
get_dop_group(Dop) when ?is_udist_dop_monitor_related_t(Dop) -> monitor_related;
get_dop_group(Dop) when ?is_udist_dop_send_to_alias_t(Dop) -> send_to_alias;
get_dop_group(Dop) when ?is_udist_dop_send_to_name_t(Dop) -> send_to_name;
get_dop_group(Dop) when ?is_udist_dop_send_to_pid_t(Dop) -> send_to_pid;
get_dop_group(Dop) when ?is_udist_dop_spawn_reply_t(Dop) -> spawn_reply;
get_dop_group(Dop) when ?is_udist_dop_spawn_request_t(Dop) -> spawn_request;
get_dop_group(Dop) when ?is_udist_dop_unlink_t(Dop) -> unlink.

%% @doc The protocol name of a control message, e.g. `` 'DOP_REG_SEND' ''.
-spec get_dop_name(dop()) -> dop_name().
get_dop_name(Dop) when ?is_udist_dop_t(Dop) ->
    <<"udist_dop_", Rest/binary>> = atom_to_binary(element(1, Dop), utf8),
    binary_to_atom(<<"DOP_", (string:uppercase(Rest))/binary>>, utf8).

%%% Internal

lookup_code(Code, Size, [{Name, Code, Size} | _]) -> {ok, Name};
lookup_code(Code, Size, [_ | Rest]) -> lookup_code(Code, Size, Rest);
lookup_code(_Code, _Size, []) -> error.

cast_altact({?DOP_ALTACT_SIG_SEND, Flags, Sender, To}) when is_integer(Flags) ->
    #udist_dop_altact_sig_send{flags = Flags, sender_pid = Sender, to = To, token = none};
cast_altact({?DOP_ALTACT_SIG_SEND, Flags, Sender, To, Token}) when is_integer(Flags) ->
    #udist_dop_altact_sig_send{flags = Flags, sender_pid = Sender, to = To, token = {some, Token}};
cast_altact(Raw) ->
    erlang:error(function_clause, [Raw]).

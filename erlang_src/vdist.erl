%% @doc vdist: control messages as `vdist_dop_*' records whose fields are
%% vterms (`include/erldist_filter.hrl'), as
%% `erldist_filter_nif:dist_{ext,int}_to_vdist/2' return them.
%%
%% `simplify/1' turns one into the `udist_dop_*' record of plain terms
%% (`include/udist.hrl'); `to_raw/1' into the raw control tuple.
-module(vdist).

-include("erldist_filter.hrl").

-export([simplify/1]).
-export([simplify/2]).
-export([to_raw/1]).
-export([is_vdist_dop/1]).

-spec simplify(tuple()) -> udist:dop().
%% @doc `simplify({}, VDist)'.
simplify(VDist) ->
    simplify({}, VDist).

-spec simplify(tuple(), tuple()) -> udist:dop().
%% @doc The `udist_dop_*' record with every field simplified (`Atoms'
%% resolves unresolved cache references, see `vterm:simplify/2').
simplify(Atoms, #vdist_dop_altact_sig_send{flags = F, sender_pid = S, to = To, token = Token}) ->
    T = case Token of
            none -> none;
            {some, VT} -> {some, vterm:simplify(Atoms, VT)}
        end,
    udist:cast_to_dop(
      udist:cast_to_raw_dop({udist_dop_altact_sig_send, vterm:simplify(Atoms, F), vterm:simplify(Atoms, S),
                             vterm:simplify(Atoms, To), T}));
simplify(Atoms, VDist) when is_tuple(VDist), tuple_size(VDist) > 1 ->
    [Name | Fields] = tuple_to_list(VDist),
    true = is_vdist_dop(VDist),
    "vdist_" ++ Rest = atom_to_list(Name),
    list_to_tuple([list_to_existing_atom("udist_" ++ Rest) | [vterm:simplify(Atoms, F) || F <- Fields]]).

-spec to_raw(tuple()) -> tuple().
%% @doc The raw control tuple (`{DOP, ...}') of a vdist record.
to_raw(VDist) ->
    udist:cast_to_raw_dop(simplify(VDist)).

-spec is_vdist_dop(term()) -> boolean().
%% @doc Whether `Term' is a `vdist_dop_*' record (by tag).
is_vdist_dop(T) when is_tuple(T), tuple_size(T) > 1, is_atom(element(1, T)) ->
    lists:prefix("vdist_dop_", atom_to_list(element(1, T)));
is_vdist_dop(_) ->
    false.

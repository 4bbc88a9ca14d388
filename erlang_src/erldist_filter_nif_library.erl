%%% @doc Where the NIF's shared library is: the application's `priv/', or,
%%% when the code path has no `erldist_filter' application directory (a
%%% copied ebin), the `priv/' beside the ebin of `erldist_filter_nif'.
%%%
%%% Its own module, without `-on_load', so the carrier can check that the
%%% library is there before anything loads it; it reads files with
%%% `prim_file' because at kernel's start, when the carrier listens,
%%% kernel's file server is not up yet.
%%% @hidden Internal to the library, not an API.
-module(erldist_filter_nif_library).

-export([path/0]).

-define(NAME, "liberldist_filter_nif").

%% @doc The library's file name without its `.so' extension (what
%% `erlang:load_nif/2' takes).
-spec path() -> file:filename().
path() ->
    filename:join(priv_dir(), ?NAME).

priv_dir() ->
    case code:priv_dir(erldist_filter) of
        Dir when is_list(Dir) ->
            case prim_file:read_file_info(filename:join(Dir, ?NAME ++ ".so")) of
                {ok, _} -> Dir;
                {error, _} -> beside_ebin()
            end;
        {error, bad_name} ->
            beside_ebin()
    end.

beside_ebin() ->
    filename:join(filename:dirname(filename:dirname(code:which(erldist_filter_nif))), "priv").

defmodule EDF do
  @moduledoc """
  Elixir conveniences for erldist_filter.

  `EDF.world_stats_print/0` prints what the filter on this node saw;
  `EDF.top/1` opens the live view (`:erldist_filter_top`). Configuration
  is the application environment (`config :erldist_filter, ...`, checked
  and applied when the application starts; after `Application.put_env/3`
  at run time, `:erldist_filter.config_reload/0`). Telemetry-shaped
  events are attached to with `:erldist_filter_telemetry.attach/4` (or
  `:telemetry.attach/4` when the `telemetry` library is loaded).

  Every record of `include/udist.hrl` (distribution control messages, see
  `:udist`) is available as an Elixir record macro of the same name, so
  handlers and loggers written in Elixir can match on them:

      require EDF

      def classify(_hint, _sysname, EDF.udist_dop_reg_send(to_name: name), _payload)
          when name in [MyTrustedProcess],
          do: :keep

  `EDF.inspect/2` renders these records by name, e.g.
  `EDF.udist_dop_reg_send(from_pid: #PID<...>, unused: :"", to_name: :net_kernel)`.

  The `vterm_*` and `vdist_dop_*` records of `include/erldist_filter.hrl`
  (returned by `:erldist_filter_nif.dist_ext_to_vterm/2` and friends) are
  record macros as well, e.g. `EDF.vterm_atom_ext(name: name)`.
  """

  require Record

  @udist_hrl Path.expand("../include/udist.hrl", __DIR__)
  @external_resource @udist_hrl
  @external_resource Path.expand("../include/erldist_filter_erts_dist.hrl", __DIR__)

  @records Record.extract_all(from: @udist_hrl)
  @record_names Enum.map(@records, fn {name, _fields} -> name end)
  @record_sizes Map.new(@records, fn {name, fields} -> {name, length(fields) + 1} end)

  for {name, fields} <- @records do
    @doc """
    Builds, reads or matches the `#{name}` record of `udist.hrl` (fields
    #{Enum.map_join(fields, ", ", fn {f, _} -> "`#{f}`" end)}); see `Record.defrecord/3`.
    """
    Record.defrecord(name, name, fields)

    @typedoc "The `#{name}` record of `udist.hrl`."
    @type unquote(name)() ::
            record(unquote(name), unquote(Enum.map(fields, fn {f, _} -> {f, quote(do: term())} end)))
  end

  # The vterm_* and vdist_dop_* records of erldist_filter.hrl (what the
  # NIF's dist_*_to_vterm/vdist decoders return) are record macros too, so
  # Elixir code can match them; record_definitions/0, is_record_type/1 and
  # inspect/2 cover the udist.hrl records only.
  @erldist_filter_hrl Path.expand("../include/erldist_filter.hrl", __DIR__)
  @external_resource @erldist_filter_hrl

  for {name, fields} <- Record.extract_all(from: @erldist_filter_hrl) do
    @doc """
    Builds, reads or matches the `#{name}` record of `erldist_filter.hrl`
    (what the NIF's `dist_*_to_vterm`/`vdist` decoders return); see
    `Record.defrecord/3`.
    """
    Record.defrecord(name, name, fields)

    @typedoc "The `#{name}` record of `erldist_filter.hrl`."
    @type unquote(name)() ::
            record(unquote(name), unquote(Enum.map(fields, fn {f, _} -> {f, quote(do: term())} end)))
  end

  @typedoc "Any record of `udist.hrl`."
  @type t() ::
          unquote(
            @record_names
            |> Enum.map(fn name -> {name, [], []} end)
            |> Enum.reduce(fn type, acc -> quote(do: unquote(type) | unquote(acc)) end)
          )

  @typedoc "How a record is defined, as returned by `record_definitions/0`."
  @type record_definition() :: %{kind: :defrecord, name: atom(), tag: atom(), fields: [atom()]}

  @doc """
  Returns `true` if `term` is one of the records of `udist.hrl` (right tag
  and right tuple size).

      iex> EDF.is_record_type(EDF.udist_dop_reg_send(to_name: :foo))
      true
      iex> EDF.is_record_type({:udist_dop_reg_send, :too_short})
      false
  """
  @spec is_record_type(term()) :: boolean()
  def is_record_type(term) when is_tuple(term) and tuple_size(term) > 0 do
    Map.get(@record_sizes, elem(term, 0)) == tuple_size(term)
  end

  def is_record_type(_term), do: false

  @doc """
  The records this module defines, in the order of `udist.hrl`.
  """
  @spec record_definitions() :: [record_definition()]
  def record_definitions do
    unquote(
      Macro.escape(
        for {name, fields} <- @records do
          %{kind: :defrecord, name: name, tag: name, fields: Keyword.keys(fields)}
        end
      )
    )
  end

  @doc """
  Opens the live view of the filter on this node (`:erldist_filter_top`):
  one row per connected node (packets/s, bytes/s, drops, redirects, logs,
  limit hits, spawn-budget kills, atom-cache entries) refreshed every
  second, and the last reports logged in domain `[:erldist_filter]`.
  Type a column key and Enter at the `top>` prompt to sort (`p b d r l h
  k a`, `n` for the node name); `q` quits. Returns `:ok` when it quits.

  Options (a keyword list): `interval_ms:` (1000), `events:` (10),
  `sort:` (`:packets`, `:bytes`, `:drops`, `:redirects`, `:logs`,
  `:limits`, `:kills`, `:atoms` or `:node`).
  """
  @spec top(keyword()) :: :ok
  def top(opts \\ []) when is_list(opts) do
    :erldist_filter_top.start(Map.new(opts))
  end

  @doc """
  Prints what the filter on this node saw: the non-zero counters of every
  channel (open and closed), then each connected node's open channel
  (`:erldist_filter.world_stats_print/0`). The raw maps are
  `:erldist_filter_nif.world_stats_get/0` and `channel_inspect/1`.
  """
  @spec world_stats_print() :: :ok
  def world_stats_print do
    :erldist_filter.world_stats_print()
  end

  @doc """
  Like `Kernel.inspect/2`, but renders the records of `udist.hrl` (also
  nested ones) as `EDF.name(field: value, ...)`.

      iex> EDF.inspect(EDF.udist_dop_reg_send(from_pid: :p, unused: :"", to_name: :rex))
      ~S[EDF.udist_dop_reg_send(from_pid: :p, unused: :"", to_name: :rex)]
  """
  @spec inspect(term(), keyword()) :: String.t()
  def inspect(term, opts \\ []) when is_list(opts) do
    Kernel.inspect(term, EDF.Pretty.inspect_opts(opts))
  end
end

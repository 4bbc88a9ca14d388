defmodule EDF.Pretty do
  @moduledoc """
  A record of `udist.hrl` prepared for inspection: `EDF.inspect/2` casts
  each record it meets into this struct, whose `Inspect` implementation
  prints `EDF.name(field: value, ...)`.
  """

  import Inspect.Algebra

  @enforce_keys [:name, :pairs]
  defstruct [:name, :pairs]

  @type t() :: %__MODULE__{name: atom(), pairs: [{atom(), term()}]}

  @doc """
  Casts a record of `udist.hrl` into an `EDF.Pretty` struct; any other
  term is returned unchanged.
  """
  @spec cast(term()) :: t() | term()
  def cast(term) do
    if EDF.is_record_type(term) do
      [name | values] = Tuple.to_list(term)
      %{fields: fields} = Enum.find(EDF.record_definitions(), &(&1.name == name))
      %__MODULE__{name: name, pairs: Enum.zip(fields, values)}
    else
      term
    end
  end

  @doc """
  Renders `pretty` as an algebra document.
  """
  @spec inspect(t(), Inspect.Opts.t()) :: Inspect.Algebra.t()
  def inspect(%__MODULE__{name: name, pairs: pairs}, opts) do
    container_doc("EDF.#{name}(", pairs, ")", opts, &pair_to_doc/2, separator: ",", break: :flex)
  end

  @doc """
  Adds the `:inspect_fun` that renders records through this module to the
  options of `Kernel.inspect/2`.
  """
  @spec inspect_opts(keyword()) :: keyword()
  def inspect_opts(opts) when is_list(opts) do
    Keyword.put(opts, :inspect_fun, &inspect_fun/2)
  end

  @doc false
  @spec inspect_fun(term(), Inspect.Opts.t()) :: Inspect.Algebra.t()
  def inspect_fun(term, opts) do
    case cast(term) do
      %__MODULE__{} = pretty -> __MODULE__.inspect(pretty, opts)
      other -> Inspect.inspect(other, opts)
    end
  end

  defp pair_to_doc({field, value}, opts) do
    concat([Atom.to_string(field), ": ", to_doc(value, opts)])
  end
end

defimpl Inspect, for: EDF.Pretty do
  def inspect(pretty, opts), do: EDF.Pretty.inspect(pretty, opts)
end

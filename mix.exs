# Mix build for erldist_filter, offline and without hex: a compiler step runs
# the same native/build.sh as rebar3, then Mix compiles erlang_src/ and the
# Elixir conveniences in elixir_lib/. Keep `application/0` in sync with
# erlang_src/erldist_filter.app.src (Mix builds the .app from here).
defmodule Mix.Tasks.Compile.ErldistFilterNif do
  use Mix.Task.Compiler

  @impl true
  def run(_args) do
    case System.cmd("sh", ["native/build.sh"], into: IO.stream(:stdio, :line)) do
      {_, 0} -> {:ok, []}
      {_, status} -> Mix.raise("native/build.sh failed with status #{status}")
    end
  end
end

# After Mix's Erlang compile: each module's docs go into its .beam (the same
# scripts/embed_docs as rebar3 runs), so `h :erldist_filter` works in a
# dependency and a release.
defmodule Mix.Tasks.Compile.ErldistFilterDocs do
  use Mix.Task.Compiler

  @impl true
  def run(_args) do
    ebin = Mix.Project.compile_path()

    case System.cmd("escript", ["scripts/embed_docs", ebin], into: IO.stream(:stdio, :line)) do
      {_, 0} -> {:ok, []}
      {_, status} -> Mix.raise("scripts/embed_docs failed with status #{status}")
    end
  end
end

defmodule ErldistFilter.MixProject do
  use Mix.Project

  def project do
    [
      app: :erldist_filter,
      version: "0.2.0",
      elixir: "~> 1.14",
      language: :erlang,
      compilers: [:erldist_filter_nif] ++ Mix.compilers() ++ [:erldist_filter_docs],
      erlc_paths: ["erlang_src"],
      erlc_include_path: "include",
      erlc_options: [:debug_info],
      elixirc_paths: ["elixir_lib"],
      test_paths: ["test/elixir"],
      build_path: "_build/mix",
      deps: [],
      description: "Filter, log and rewrite inbound Erlang distribution traffic (Rust NIF)",
      package: [
        licenses: ["MIT"],
        links: %{"C NIF it re-implements" => "https://github.com/WhatsApp/erldist_filter"},
        # The Rust sources too: native/build.sh builds the NIF on the user's machine.
        files: ~w(erlang_src include elixir_lib native priv/.keep scripts/embed_docs Cargo.toml Cargo.lock
                  rebar.config mix.exs README.md LICENSE)
      ]
    ]
  end

  def application do
    [
      mod: {:erldist_filter_app, []},
      registered: [
        :erldist_filter_sup,
        :erldist_filter_routers_sup,
        :erldist_filter_budget,
        :erldist_filter_telemetry_poller,
        :erldist_filter_protected
      ],
      # The TLS carrier uses ssl and public_key when (and only when) it is
      # configured; Elixir 1.15+ puts only declared applications on the
      # code path, so declare them, optional.
      extra_applications: [:kernel, :stdlib, :elixir, public_key: :optional, ssl: :optional]
    ]
  end
end

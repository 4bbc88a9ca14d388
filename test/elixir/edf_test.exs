defmodule EDFTest do
  use ExUnit.Case, async: false

  require EDF

  doctest EDF

  @hrl_names [
    :udist_dop_link, :udist_dop_send, :udist_dop_exit, :udist_dop_unlink, :udist_dop_reg_send,
    :udist_dop_group_leader, :udist_dop_exit2, :udist_dop_send_tt, :udist_dop_exit_tt,
    :udist_dop_reg_send_tt, :udist_dop_exit2_tt, :udist_dop_monitor_p, :udist_dop_demonitor_p,
    :udist_dop_monitor_p_exit, :udist_dop_send_sender, :udist_dop_send_sender_tt,
    :udist_dop_payload_exit, :udist_dop_payload_exit_tt, :udist_dop_payload_exit2,
    :udist_dop_payload_exit2_tt, :udist_dop_payload_monitor_p_exit, :udist_dop_spawn_request,
    :udist_dop_spawn_request_tt, :udist_dop_spawn_reply, :udist_dop_spawn_reply_tt,
    :udist_dop_alias_send, :udist_dop_alias_send_tt, :udist_dop_unlink_id,
    :udist_dop_unlink_id_ack, :udist_dop_altact_sig_send
  ]

  defp to_name_of(EDF.udist_dop_reg_send(to_name: name)), do: {:reg_send, name}
  defp to_name_of(EDF.udist_dop_reg_send_tt(to_name: name, trace_token: t)), do: {:reg_send_tt, name, t}
  defp to_name_of(_), do: :other

  test "records match what :udist builds from raw control tuples" do
    pid = self()
    dop = :udist.cast_to_dop({6, pid, :"", :net_kernel})
    assert EDF.udist_dop_reg_send(from_pid: ^pid, to_name: :net_kernel) = dop
    assert to_name_of(dop) == {:reg_send, :net_kernel}
    assert to_name_of(:udist.cast_to_dop({16, pid, :"", :rex, :tok})) == {:reg_send_tt, :rex, :tok}
    assert to_name_of(:udist.cast_to_dop({22, pid, pid})) == :other
    refute match?(EDF.udist_dop_reg_send(to_name: :rex), dop)
  end

  test "records built in Elixir cast back to the raw tuples" do
    pid = self()
    assert :udist.cast_to_raw_dop(EDF.udist_dop_reg_send(from_pid: pid, unused: :"", to_name: :x)) ==
             {6, pid, :"", :x}
    assert :udist.cast_to_raw_dop(EDF.udist_dop_altact_sig_send(flags: 8, sender_pid: pid, to: :x)) ==
             {37, 8, pid, :x}
    assert EDF.udist_dop_altact_sig_send(flags: 2, sender_pid: pid, to: pid, token: {:some, :t})
           |> :udist.cast_to_raw_dop() == {37, 2, pid, pid, :t}
    assert :udist.get_dop_group(EDF.udist_dop_exit2(from_pid: pid, to_pid: pid, reason: :r)) == :exit2
  end

  test "every record of udist.hrl is defined, with its fields in order" do
    defs = EDF.record_definitions()
    assert Enum.map(defs, & &1.name) == @hrl_names
    assert Enum.all?(defs, &(&1.kind == :defrecord and &1.tag == &1.name))
    assert %{fields: [:from_pid, :unused, :to_name]} = Enum.find(defs, &(&1.name == :udist_dop_reg_send))
    assert %{fields: [:flags, :sender_pid, :to, :token]} =
             Enum.find(defs, &(&1.name == :udist_dop_altact_sig_send))
    assert EDF.udist_dop_altact_sig_send(flags: 0)|> elem(4) == :none
  end

  test "is_record_type/1 wants a known tag and the right size" do
    for %{name: name, fields: fields} <- EDF.record_definitions() do
      assert EDF.is_record_type(List.to_tuple([name | Enum.map(fields, fn _ -> nil end)]))
      refute EDF.is_record_type(List.to_tuple([name | Enum.map([:extra | fields], fn _ -> nil end)]))
    end

    refute EDF.is_record_type({:udist_dop_unknown, 1, 2})
    refute EDF.is_record_type({6, self(), :"", :x})
    refute EDF.is_record_type({})
    refute EDF.is_record_type(:udist_dop_link)
    refute EDF.is_record_type(%{})
  end

  test "inspect/2 renders records by name, nested too" do
    control = EDF.udist_dop_monitor_p(from_pid: :p, to_proc: :net_kernel, ref: :r)
    assert EDF.inspect(control) == "EDF.udist_dop_monitor_p(from_pid: :p, to_proc: :net_kernel, ref: :r)"
    assert EDF.inspect({1, :"a@b", [control]}) ==
             "{1, :a@b, [EDF.udist_dop_monitor_p(from_pid: :p, to_proc: :net_kernel, ref: :r)]}"
    # Not records: plain inspect.
    assert EDF.inspect({:udist_dop_monitor_p, :short}) == "{:udist_dop_monitor_p, :short}"
    assert EDF.inspect(%{a: 1}) == "%{a: 1}"
    # Options still apply.
    long = EDF.udist_dop_reg_send(from_pid: :p, unused: :"", to_name: String.to_atom(String.duplicate("n", 60)))
    assert EDF.inspect(long, pretty: true, width: 40) =~ ~r/\A(?s)EDF.udist_dop_reg_send\(.*\n.*to_name: :n+\)\z/
    assert EDF.inspect([1, 2, 3, 4], limit: 2) == "[1, 2, ...]"
  end

  test "EDF.Pretty casts records and leaves other terms" do
    assert %EDF.Pretty{name: :udist_dop_link, pairs: [from_pid: :a, to_pid: :b]} =
             EDF.Pretty.cast({:udist_dop_link, :a, :b})
    assert EDF.Pretty.cast({:other, :a}) == {:other, :a}
    assert inspect(EDF.Pretty.cast({:udist_dop_link, :a, :b})) == "EDF.udist_dop_link(from_pid: :a, to_pid: :b)"
  end

  test "EDF.top/1 draws the view, sorts on a key and quits on q" do
    out = ExUnit.CaptureIO.capture_io("n\nq\n", fn -> assert EDF.top(events: 3) == :ok end)
    assert out =~ "erldist_filter top"
    assert out =~ "sort: packets"
    assert out =~ "sort: node"
    refute Process.whereis(:erldist_filter_top_collector)
  end

  # What `h EDF` and `h EDF.world_stats_print` show in iex.
  test "EDF carries its docs" do
    {:docs_v1, _, :elixir, _, %{"en" => moduledoc}, _, docs} = Code.fetch_docs(EDF)
    assert moduledoc =~ "Elixir conveniences for erldist_filter"
    documented = for {{:function, name, arity}, _, _, %{"en" => _}, _} <- docs, do: {name, arity}
    assert {:world_stats_print, 0} in documented
    assert {:top, 1} in documented
  end

  test "EDF.world_stats_print/0 prints this node's counters" do
    out = ExUnit.CaptureIO.capture_io(fn -> assert EDF.world_stats_print() == :ok end)
    assert out =~ "erldist_filter on nonode@nohost, every channel (open and closed):"
  end

  # Elixir's Logger replaces OTP's default handler with one that logs
  # every domain: the in-force line (domain [:erldist_filter]) reaches it
  # with no configuration. (This project's own mix build does not start
  # Logger; an Elixir application does.)
  test "config_reload/0 applies the environment and its line reaches Logger" do
    {:ok, _} = Application.ensure_all_started(:logger)

    log =
      ExUnit.CaptureLog.capture_log(fn ->
        Application.put_env(:erldist_filter, :config, logging: true)
        assert {:ok, %{config: %{logging: true}}} = :erldist_filter.config_reload()
      end)

    assert log =~ "erldist_filter in force: safe_policy=false"
    assert :erldist_filter_nif.config_get(:logging)
  after
    Application.delete_env(:erldist_filter, :config)
    {:ok, _} = :erldist_filter.config_reload()
  end

  test "config_reload/0 names a wrong key and changes nothing" do
    Application.put_env(:erldist_filter, :safe_policy, :yes)

    assert {:error, {:invalid_config, :safe_policy, :yes, [true, false]}} =
             :erldist_filter.config_reload()
  after
    Application.delete_env(:erldist_filter, :safe_policy)
  end
end

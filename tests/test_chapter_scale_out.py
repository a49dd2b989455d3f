"""The scale-out chapter's views, cost model and claims, on synthetic records (no cluster, no
timing): each claim holds on records where it should and fails on records where it should
not; the measurement itself runs in the docs build (and ``tests/test_cluster.py`` covers the
cluster it runs on)."""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import pytest

from mpguide import claims, executors, machine, peers, plotting, timing
from mpguide.chapters import scale_out, scale_out_measure, scale_out_plots

ADDRESS = "tcp://127.0.0.1:40123"
WORKERS = 2


def _result(name: str, seconds: dict[executors.Executor, float], items: int) -> dict[str, Any]:
    meta = machine.collect_metadata()
    return {"name": name, "measurements": [
        timing.Measurement(spec.label, (s, s * 1.02, s * 0.98),
                           params={**spec.record(), "items": items}, metadata=meta).to_dict()
        for spec, s in seconds.items()]}


def _record(*, dask_task_s: float = 5e-4, pool_task_s: float = 5e-5,
            dask_speedups: tuple[float, ...] = (0.1, 0.6, 1.7),
            pool_speedups: tuple[float, ...] = (1.0, 1.7, 1.9),
            every_s: float = 0.4, scatter_s: float = 0.1) -> dict[str, Any]:
    """A record shaped like :func:`scale_out_measure.measure_scale_out`'s."""
    loop, pool = executors.Loop(), executors.Pool(WORKERS, chunksize=1)
    dask = peers.Dask(WORKERS, address=ADDRESS)
    batched = peers.Dask(WORKERS, 10, address=ADDRESS)
    tasks, payoff_ms = 100, (1.0, 10.0, 30.0)
    payoff = []
    for ms, d, p in zip(payoff_ms, dask_speedups, pool_speedups, strict=True):
        serial = 8 * ms / 1e3
        payoff.append({"task_ms": ms, "result": _result(
            "scale-out-payoff", {loop: serial, pool: serial / p, dask: serial / d}, 8)})
    scatter = []
    for kib, factor in ((64, 0.1), (4096, 1.0)):
        for how, s in zip(scale_out.SCATTER_WAYS, (every_s, scatter_s, scatter_s / 2),
                          strict=True):
            scatter.append({"kib": kib, "tasks": 8, "how": how,
                            "samples": [s * factor, s * factor * 1.1, s * factor * 0.9]})
    return {
        "cluster": {"address": ADDRESS, "workers": WORKERS, "startup_s": 4.0,
                    "commands": "dask scheduler ...\ndask worker ..."},
        "latency": _result("scale-out-latency", {pool: 2e-4, dask: 5e-3}, 1),
        "throughput": _result("scale-out-throughput", {
            loop: 1e-5, pool: tasks * pool_task_s, executors.Pool(WORKERS): tasks * 1e-5,
            dask: tasks * dask_task_s, batched: tasks * dask_task_s / 5}, tasks),
        "payoff": payoff, "scatter": scatter, "metadata": machine.collect_metadata(),
    }


@pytest.fixture
def record(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The synthetic record, served by ``load_scale_out``; tests may change it first."""
    data = _record()
    monkeypatch.setattr(scale_out, "load_scale_out", lambda *a, **k: data)
    return data


def _serve(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    data = _record(**changes)
    monkeypatch.setattr(scale_out, "load_scale_out", lambda *a, **k: data)


# --- views ----------------------------------------------------------------------------------


def test_tables_name_the_cluster_not_its_port(record: dict[str, Any]) -> None:
    for table in (scale_out.latency_table(record), scale_out.throughput_table(record),
                  scale_out.payoff_frame(record)):
        assert not table["label"].str.contains(ADDRESS).any()
        assert table["label"].str.contains("loopback cluster").any()


def test_per_task_cost_and_latency_come_from_the_per_item_rows(record: dict[str, Any]) -> None:
    assert scale_out.task_overhead_s(record) == pytest.approx(5e-4)
    assert scale_out.task_overhead_s(record, "pool") == pytest.approx(5e-5)
    assert scale_out.task_latency_s(record) == pytest.approx(5e-3)
    table = scale_out.throughput_table(record).set_index("label")
    assert table["tasks_per_s"].iloc[0] > table["tasks_per_s"].iloc[-1]


def test_payoff_durations_interpolate_and_say_never(record: dict[str, Any]) -> None:
    durations = scale_out.payoff_durations(scale_out.payoff_frame(record), WORKERS)
    assert 1.0 < durations["pool"] < 10.0 < durations["dask"] < 30.0
    slow = _record(dask_speedups=(0.1, 0.5, 1.0))
    assert math.isnan(scale_out.payoff_durations(scale_out.payoff_frame(slow), WORKERS)["dask"])


def test_scatter_table_is_relative_to_sending_with_every_task(record: dict[str, Any]) -> None:
    table = scale_out.scatter_table(record).set_index(["kib", "how"])
    assert table.loc[(4096, scale_out.SCATTER_WAYS[0]), "vs_every_task"] == pytest.approx(1.0)
    assert table.loc[(4096, scale_out.SCATTER_WAYS[1]), "vs_every_task"] == pytest.approx(0.25)
    assert scale_out.loopback_bytes_per_s(record) == pytest.approx(4096 * 1024 * 8 / 0.4)


def test_the_model_adds_its_terms_and_more_machines_only_shrink_the_compute() -> None:
    common = {"tasks": 1000, "task_s": 0.01, "arg_bytes": 1e5, "cores": 4,
              "overhead_s": 1e-3, "bytes_per_s": 1e8, "latency_s": 0.5}
    one, many = (scale_out.project(machines=n, **common) for n in (1, 64))
    assert one["seconds"] == pytest.approx(0.5 + 1.0 + 2.5 + 1.0)
    assert many["scheduler_s"] == one["scheduler_s"]
    assert many["transfer_s"] == one["transfer_s"]
    assert many["compute_s"] == pytest.approx(one["compute_s"] / 64)
    ceiling = scale_out.speedup_ceiling(0.01, 1e-3, 1e5, 1e8)
    assert many["speedup"] < ceiling == pytest.approx(5.0)


def test_projection_and_model_check_cover_every_duration(record: dict[str, Any]) -> None:
    frame = scale_out.projection_frame(record)
    assert len(frame) == len(record["payoff"]) * len(scale_out.PROJECTION_MACHINES)
    assert (frame.groupby("task_ms")["speedup"].diff().dropna() >= 0).all()
    check = scale_out.model_check(record)
    assert list(check["task_ms"]) == [1.0, 10.0, 30.0]
    assert (check["projected_speedup"] > 0).all()


@pytest.mark.parametrize("plot", ["payoff", "scatter", "projection"])
def test_figures_carry_the_machine_caption(record: dict[str, Any], plot: str) -> None:
    if plot == "projection":
        fig = scale_out_plots.plot_projection(scale_out.projection_frame(record),
                                              record["metadata"])
    else:
        fig = getattr(scale_out_plots, f"plot_{plot}")(record)
    try:
        assert plotting.caption_of(fig)
    finally:
        plt.close(fig)


# --- claims ---------------------------------------------------------------------------------


def test_overhead_claim_holds_within_and_fails_beyond_the_documented_figure(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(monkeypatch, dask_task_s=5e-4)
    assert claims.evaluate("dask-task-overhead-documented").holds
    _serve(monkeypatch, dask_task_s=3e-3)
    verdict = claims.evaluate("dask-task-overhead-documented")
    assert not verdict.holds
    assert "3000 µs" in verdict.statement


def test_scatter_claim_fails_when_scattering_does_not_pay(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(monkeypatch, every_s=0.4, scatter_s=0.1)
    assert claims.evaluate("scatter-beats-every-task").holds
    _serve(monkeypatch, every_s=0.1, scatter_s=0.12)
    verdict = claims.evaluate("scatter-beats-every-task")
    assert not verdict.holds
    assert "slower" in verdict.statement


def test_payoff_claim_fails_when_the_cluster_pays_off_as_early_as_the_pool(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(monkeypatch)
    assert claims.evaluate("cluster-needs-longer-tasks").holds
    _serve(monkeypatch, dask_speedups=(1.8, 1.9, 1.95), pool_speedups=(1.0, 1.7, 1.9))
    assert not claims.evaluate("cluster-needs-longer-tasks").holds
    _serve(monkeypatch, pool_speedups=(0.5, 0.9, 1.2))  # the Pool never pays off: no evidence
    verdict = claims.evaluate("cluster-needs-longer-tasks")
    assert not verdict.holds
    assert "never in the sweep" in verdict.statement


def test_batching_claim_fails_when_batches_cost_as_much_per_item(
        monkeypatch: pytest.MonkeyPatch, record: dict[str, Any]) -> None:
    assert claims.evaluate("batching-cuts-dask-overhead").holds  # batches: 5x less per item
    for m in record["throughput"]["measurements"]:
        if m["params"]["tool"] == "dask" and m["params"]["chunksize"]:
            m["samples"] = [s * 5 for s in m["samples"]]
    verdict = claims.evaluate("batching-cuts-dask-overhead")
    assert not verdict.holds
    assert "from 500 µs to 500 µs" in verdict.statement


def test_model_claim_fails_when_the_cluster_is_far_slower_than_predicted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fitting = _record()
    check = scale_out.model_check(fitting)
    _serve(monkeypatch, dask_speedups=tuple(check["projected_speedup"]))
    assert claims.evaluate("projection-model-fits-loopback").holds
    _serve(monkeypatch, dask_speedups=tuple(check["projected_speedup"] / 3))
    verdict = claims.evaluate("projection-model-fits-loopback")
    assert not verdict.holds
    assert "within 3.0x" in verdict.statement


def test_your_workload_is_projected_and_your_cluster_keeps_its_name() -> None:
    data = _record()
    loop, dask = executors.Loop(), peers.Dask(WORKERS, address=ADDRESS)
    data["yours"] = _result("scale-out-yours", {loop: 0.5, dask: 0.3}, 100)
    data["arg_bytes"] = 2048.0
    data["cluster"] = {"address": ADDRESS, "workers": WORKERS, "loopback": False}
    yours = scale_out.workload_of(data)
    assert yours == {"tasks": 100, "task_ms": pytest.approx(5.0), "arg_bytes": 2048.0}
    frame = scale_out.projection_frame(data, tasks=100, task_ms=[yours["task_ms"]],
                                       arg_bytes=yours["arg_bytes"])
    assert list(frame["task_ms"].unique()) == [pytest.approx(5.0)]
    assert scale_out.result_table(data["yours"], data["cluster"])["label"].str.contains(
        ADDRESS).any()


def test_your_params_name_importable_things(usermod: Any) -> None:
    params = scale_out.your_params(usermod.square, usermod.few_items, {}, None)
    assert params["func"] == "usermod:square"
    assert params["items"] == "usermod:few_items"
    assert scale_out.your_params(usermod.square, [1, 2], {})["items"] == [1, 2]


def test_the_measurement_is_found_by_the_name_the_cache_runs() -> None:
    assert executors.resolve_target(scale_out.MEASURE) is scale_out_measure.measure_scale_out


def test_params_come_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "usable_cpus", lambda: 8)
    params = scale_out.scale_out_params()
    assert params["workers"] == 8
    assert params["noop_tasks"] % 8 == 0
    assert params["payoff_tasks"] % 8 == 0
    assert params["scatter_tasks"] == 32

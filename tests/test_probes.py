"""Overhead probes: plausible positive figures, orderings with wide margins, nothing left over."""

from __future__ import annotations

import time

import pytest

from mpguide import pipe_peer, probes, runner, workloads


def test_pool_start_stop_runs_in_a_fresh_interpreter(start_method: str) -> None:
    m = probes.pool_start_stop(start_method, 2, repeats=2)
    assert m.params == {"start_method": start_method, "workers": 2, "main": probes.FRESH_MAIN}
    assert len(m.samples) == 2
    assert 0 < m.median < 30


def test_current_main_of_the_fresh_child() -> None:
    assert runner.run_fresh("mpguide.probes:current_main") == probes.FRESH_MAIN


def test_apply_round_trip(start_method: str) -> None:
    m = probes.apply_round_trip(start_method, 2, n_pools=2, calls=20)
    assert m.params["start_method"] == start_method
    assert len(m.samples) == 2
    assert 0 < m.median < 1


def test_map_overhead_falls_with_chunksize(start_method: str) -> None:
    small, large = probes.map_item_overhead([1, 1000], start_method, 2, n_items=500,
                                            n_pools=2)
    assert (small.params["chunksize"], large.params["chunksize"]) == (1, 1000)
    assert large.params["n_items"] >= 10 * 1000
    assert small.median > 0
    # Measured here: about 100x apart; a factor 3 cannot flake.
    assert large.median < small.median / 3


@pytest.mark.parametrize("kind", workloads.PAYLOAD_KINDS)
def test_pickle_throughput_by_kind(kind: str) -> None:
    dumps, loads = probes.pickle_throughput(kind, 1 << 16, protocol=5, repeats=2)
    assert (dumps.name, loads.name) == ("pickle_dumps", "pickle_loads")
    assert dumps.params["pickled_bytes"] > 0
    assert probes.bytes_per_s(dumps) > 0
    assert probes.bytes_per_s(loads) > 0


def test_pickle_of_zero_bytes() -> None:
    dumps, loads = probes.pickle_throughput("bytes", 0, repeats=2)
    assert dumps.params["nbytes"] == 0
    assert dumps.median > 0
    assert loads.median > 0
    assert probes.bytes_per_s(dumps) == 0.0


def test_pickle_sweep_covers_protocol_5() -> None:
    records = probes.pickle_sweep(["bytes", "ndarray"], [1024], repeats=1)
    assert {r.params["protocol"] for r in records} >= {5}
    assert {(r.params["kind"], r.params["direction"]) for r in records} == {
        (k, d) for k in ("bytes", "ndarray") for d in ("dumps", "loads")}


def test_memcpy_is_faster_than_pickling_many_small_objects() -> None:
    copy = probes.memcpy(1 << 20, repeats=3)
    dumps, _ = probes.pickle_throughput("nested", 1 << 20, repeats=3)
    # A bulk copy moves bytes far faster than pickle walks thousands of dicts (>20x here).
    assert probes.bytes_per_s(copy) > 2 * probes.bytes_per_s(dumps)


def test_pipe_round_trip_and_throughput(start_method: str) -> None:
    trip = probes.pipe_round_trip(start_method, calls=20)
    bulk = probes.pipe_throughput(1 << 20, start_method, repeats=2)
    assert trip.params == {"start_method": start_method, "nbytes": 8}
    assert 0 < trip.median < 1
    assert probes.bytes_per_s(bulk) > 0
    # A megabyte takes longer than eight bytes: compared at their fastest samples, which a
    # moment's load on a shared machine (a slow round trip, CI's other work) cannot inflate.
    assert min(bulk.samples) > min(trip.samples)


@pytest.mark.parametrize("direction", ["argument", "result"])
def test_pool_transfer_moves_and_checks_its_payloads(start_method: str, direction: str) -> None:
    m = probes.pool_transfer(direction, start_method, 1, count=4, nbytes=1 << 16, repeats=2)
    assert m.params["direction"] == direction
    assert m.params["start_method"] == start_method
    assert m.params["nbytes"] == 4 << 16
    assert len(m.samples) == 2
    assert probes.bytes_per_s(m) > 0


def test_pool_transfer_refuses_an_unknown_direction() -> None:
    with pytest.raises(ValueError, match="direction must be one of argument, result"):
        probes.pool_transfer("sideways")


def test_dead_pipe_peer_fails_fast(start_method: str) -> None:
    peer = pipe_peer.PipePeer(start_method, 64, timeout=5)
    try:
        peer.process.kill()
        peer.process.join(5)
        started = time.monotonic()
        with pytest.raises((EOFError, OSError)):
            peer.request(8)
        assert time.monotonic() - started < 5
    finally:
        peer.close()


def test_shm_create_attach_leaves_nothing() -> None:
    m = probes.shm_create_attach(1 << 16, calls=5)
    assert m.params == {"nbytes": 1 << 16}
    assert m.median > 0  # the leak check of conftest looks at /dev/shm afterwards


def test_run_probe_returns_json_records() -> None:
    (record,) = probes.run_probe("shm_create_attach", {"nbytes": 4096, "calls": 1})
    assert record["name"] == "shm_create_attach"
    assert probes.Measurement.from_dict(record).median > 0


def test_run_probe_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown probe 'nope'; choose one of pool_start_stop"):
        probes.run_probe("nope")

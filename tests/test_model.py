"""Cost model: each term behaves as its mechanism says, on injected probes and profiles."""

from __future__ import annotations

import dataclasses
import math

import pytest

from mpguide import card, model, peer_model
from mpguide.model import MachineCosts, Profile, predict, predict_threads


@pytest.fixture
def costs() -> MachineCosts:
    return MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)


def test_example_probes_follow_the_machine_card_contract() -> None:
    assert set(model.EXAMPLE_PROBES) == set(card.PROBE_KEYS)


def test_chunk_overhead_fit_recovers_per_chunk_and_per_item_costs() -> None:
    a, b = 30e-6, 0.5e-6
    a_fit, b_fit = model.fit_chunk_overhead({c: a / c + b for c in (1, 10, 100, 1000)})
    assert a_fit == pytest.approx(a, rel=1e-6)
    assert b_fit == pytest.approx(b, rel=1e-6)


def test_missing_probe_is_a_clear_error() -> None:
    probes = {k: v for k, v in model.EXAMPLE_PROBES.items() if k != "pipe_bytes_per_s"}
    with pytest.raises(model.ModelError, match="pipe_bytes_per_s"):
        MachineCosts.from_probes(probes, cores=2)


def test_unknown_start_method_is_a_clear_error(costs: MachineCosts) -> None:
    with pytest.raises(model.ModelError, match="no start-up probe"):
        costs.startup_s("vfork", 2)


def test_startup_follows_the_start_method_probe(costs: MachineCosts) -> None:
    prof = Profile(n_items=100, per_item_s=1e-3)
    by_method = {m: predict(prof, costs, workers=2, chunksize=10, start_method=m)
                 for m in ("fork", "spawn", "forkserver")}
    assert by_method["fork"].startup_s < by_method["forkserver"].startup_s \
        < by_method["spawn"].startup_s
    assert by_method["spawn"].predicted_s - by_method["fork"].predicted_s == pytest.approx(
        by_method["spawn"].startup_s - by_method["fork"].startup_s)


def test_more_workers_than_cores_start_slower_and_oversubscribe(costs: MachineCosts) -> None:
    prof = Profile(n_items=400, per_item_s=1e-3)
    two = predict(prof, costs, workers=2, chunksize=10, start_method="spawn")
    four = predict(prof, costs, workers=4, chunksize=10, start_method="spawn")
    assert four.startup_s == pytest.approx(2 * two.startup_s)
    # With as many workers as cores, only the parent's own CPU competes with the workers.
    assert two.oversubscription_s < 0.01 * two.compute_s
    assert four.oversubscription_s > 0.5 * four.compute_s
    assert four.predicted_s > two.predicted_s


def test_compute_is_divided_among_workers(costs: MachineCosts) -> None:
    prof = Profile(n_items=1000, per_item_s=2e-3)
    for workers in (1, 2):
        p = predict(prof, costs, workers=workers, chunksize=50, start_method="fork")
        assert p.compute_s == pytest.approx(prof.serial_s / workers)
        assert p.bottleneck == "workers"


def test_dispatch_shrinks_with_chunksize_and_tiny_tasks_are_parent_bound(
        costs: MachineCosts) -> None:
    prof = Profile(n_items=100_000, per_item_s=1e-7)
    by_chunk = [predict(prof, costs, workers=2, chunksize=c, start_method="fork")
                for c in (1, 10, 100, 1000)]
    dispatch = [p.dispatch_s for p in by_chunk]
    assert dispatch == sorted(dispatch, reverse=True)
    assert by_chunk[0].bottleneck == "parent"
    assert by_chunk[0].dominant() == "dispatch"
    assert all(p.predicted_s > prof.serial_s for p in by_chunk)


def test_big_results_make_serialization_dominant(costs: MachineCosts) -> None:
    prof = Profile(n_items=200, per_item_s=1e-4, result_bytes=4e6)
    p = predict(prof, costs, workers=2, chunksize=10, start_method="fork")
    assert p.dominant() == "serialization"
    # Unpickled in the parent, then Pool's result path beyond that unpickling.
    assert p.serialization_s == pytest.approx(200 * (4e6 / 2.5e9 + 4e6 * (1 / 4e8 - 1 / 2.5e9)))


def test_big_payloads_are_priced_at_pools_own_paths_not_the_bare_pipe() -> None:
    """A card's Pool paths (pickling included) price the bytes beyond their pickling; a card
    without them (an older one) falls back to the bare pipe, and no path is cheaper than it."""
    prof = Profile(n_items=100, per_item_s=1e-4, arg_bytes=1e6, result_bytes=1e6)
    with_paths = MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)
    old_card = {k: v for k, v in model.EXAMPLE_PROBES.items()
                if k not in {"pool_argument_bytes_per_s", "pool_result_bytes_per_s"}}
    bare = MachineCosts.from_probes(old_card, cores=2)
    assert bare.pool_channel() == (1 / 1e9, 1 / 1e9)
    arg_byte, result_byte = with_paths.pool_channel()
    assert arg_byte == pytest.approx(1 / 6e8 - 1 / 1.5e9)
    assert result_byte == pytest.approx(1 / 4e8 - 1 / 2.5e9)
    fast_path = MachineCosts.from_probes(
        {**model.EXAMPLE_PROBES, "pool_result_bytes_per_s": 1e10}, cores=2)
    assert fast_path.pool_channel()[1] == 1 / 1e9
    slow = predict(prof, with_paths, workers=2, chunksize=10, start_method="fork")
    fast = predict(prof, bare, workers=2, chunksize=10, start_method="fork")
    assert slow.serialization_s > fast.serialization_s


def test_pool_moves_bytes_no_faster_than_the_card_measured(costs: MachineCosts) -> None:
    """A profile that timed its pickling on a warm loop (1 us for 1 MB, far below the card's
    rate) is priced at Pool's measured paths, pickling included; a peer's channel is not."""
    warm = Profile(n_items=10, per_item_s=1e-3, arg_bytes=1e6, result_bytes=1e6,
                   arg_dumps_s=1e-6, arg_loads_s=1e-6, result_dumps_s=1e-6,
                   result_loads_s=1e-6)
    parent, _ = warm.serialization_s(costs)
    assert parent == pytest.approx(1e6 / 6e8 + 1e6 / 4e8)  # EXAMPLE_PROBES' two paths
    arg_byte, result_byte = costs.pool_channel()
    assert parent > 2e-6 + 1e6 * (arg_byte + result_byte)  # what it was priced before
    peer, _ = warm.serialization_s(costs, channel=(1e-10, 1e-10))
    assert peer == pytest.approx(2e-6 + 2e6 * 1e-10)


def test_sorted_costs_punish_big_chunks(costs: MachineCosts) -> None:
    n = 200
    positions = tuple(i / 19 for i in range(20))
    sorted_work = Profile(n_items=n, per_item_s=4e-3, sample_positions=positions,
                          sample_costs_s=tuple(8e-3 * x for x in positions))
    even_work = dataclasses.replace(sorted_work, sample_costs_s=(4e-3,) * 20)
    assert sorted_work.follows_input()
    assert not even_work.follows_input()
    big_sorted = predict(sorted_work, costs, workers=2, chunksize=100, start_method="fork")
    big_even = predict(even_work, costs, workers=2, chunksize=100, start_method="fork")
    small_sorted = predict(sorted_work, costs, workers=2, chunksize=5, start_method="fork")
    assert big_sorted.imbalance_s > 0.5 * big_sorted.compute_s
    assert big_even.imbalance_s < 0.01 * big_even.compute_s
    assert small_sorted.imbalance_s < 0.1 * big_sorted.imbalance_s


def test_a_block_of_heavy_items_at_the_end_punishes_big_chunks(costs: MachineCosts) -> None:
    """Heavy items last (no trend a rank correlation sees): the chunk holding them leaves one
    worker alone at the end; one slow call among even items is noise, not a block."""
    positions = tuple(i / 19 for i in range(20))
    light = tuple(0.5e-3 * (1 + 0.02 * ((7 * i) % 11 - 5)) for i in range(17))  # timing noise
    heavy_last = Profile(n_items=200, per_item_s=1.4e-3, sample_positions=positions,
                         sample_costs_s=light + (10e-3,) * 3)
    one_slow = dataclasses.replace(heavy_last, sample_costs_s=light[:9] + (10e-3,) + light[9:]
                                   + (0.5e-3,) * 2)
    assert abs(model._rank_correlation(positions, heavy_last.sample_costs_s)) \
        < model.TREND_RANK_CORRELATION
    assert heavy_last.follows_input()
    assert not one_slow.follows_input()
    # Calls of microseconds: two neighbours twice the median are the clock's noise.
    clock_noise = dataclasses.replace(heavy_last, sample_costs_s=tuple(
        c / 1000 for c in heavy_last.sample_costs_s))
    assert not clock_noise.follows_input()
    big = predict(heavy_last, costs, workers=2, chunksize=100, start_method="fork")
    small = predict(heavy_last, costs, workers=2, chunksize=5, start_method="fork")
    assert big.imbalance_s > 0.3 * big.compute_s
    assert small.imbalance_s < 0.1 * big.imbalance_s
    assert big.predicted_s > small.predicted_s


def test_schedule_follows_pool_greedy_order() -> None:
    assert model.schedule_makespan([1, 1, 1, 1, 4], chunksize=1, workers=2) == 6
    assert model.schedule_makespan([4, 1, 1, 1, 1], chunksize=1, workers=2) == 4
    big = model.schedule_makespan([1.0] * 100_000, chunksize=1, workers=4)
    assert big == pytest.approx(25_000, rel=1e-3)


def test_no_chunksize_predicts_pools_default(costs: MachineCosts) -> None:
    """``chunksize=None`` is Pool's own default (:func:`mpguide.executors.default_chunksize`)."""
    for n_items, workers, expected in ((100, 2, 13), (80, 2, 10), (1, 8, 1)):
        prof = Profile(n_items=n_items, per_item_s=1e-3)
        prediction = predict(prof, costs, workers=workers, chunksize=None, start_method="fork")
        assert prediction.chunksize == expected


def test_blas_threads_are_capped_to_the_cores(costs: MachineCosts) -> None:
    prof = Profile(n_items=100, per_item_s=6e-3, blas_threads=2, per_item_single_blas_s=1e-2)
    one = predict(prof, costs, workers=1, chunksize=10, start_method="fork")
    two = predict(prof, costs, workers=2, chunksize=10, start_method="fork")
    assert (one.blas_threads, two.blas_threads) == (2, 1)
    assert one.compute_s == pytest.approx(100 * 6e-3)
    assert two.compute_s == pytest.approx(100 * 1e-2 / 2)
    uncapped = predict(prof, costs, workers=2, chunksize=10, start_method="fork",
                       blas_threads=2)
    assert uncapped.oversubscription_s > 10 * two.oversubscription_s


def test_threads_only_help_work_that_releases_the_gil(costs: MachineCosts) -> None:
    holds = Profile(n_items=200, per_item_s=1e-3, gil_fraction=1.0)
    frees = dataclasses.replace(holds, gil_fraction=0.0)
    assert predict_threads(holds, costs, workers=2).predicted_s >= holds.serial_s
    assert predict_threads(frees, costs, workers=2).predicted_s == pytest.approx(
        holds.serial_s / 2, rel=0.05)


def test_threads_cannot_parallelize_blas_that_fills_the_cores_already(
        costs: MachineCosts) -> None:
    """BLAS twice as fast on its two threads, on two cores: the loop uses both, so two threads
    of it gain nothing, though BLAS releases the GIL; on eight cores they gain their count.
    Small matrices that BLAS threads do not speed up leave the second core to a thread."""
    blas = Profile(n_items=200, per_item_s=1e-3, gil_fraction=0.0, blas_threads=2,
                   per_item_single_blas_s=2e-3)
    assert predict_threads(blas, costs, workers=2).compute_s == pytest.approx(blas.serial_s)
    eight = MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=8)
    assert predict_threads(blas, eight, workers=2).compute_s == pytest.approx(
        blas.serial_s / 2)
    small = dataclasses.replace(blas, per_item_single_blas_s=1e-3)
    assert predict_threads(small, costs, workers=2).compute_s == pytest.approx(
        small.serial_s / 2)


def test_profile_rejects_impossible_values() -> None:
    with pytest.raises(model.ModelError, match="at least one item"):
        Profile(n_items=0, per_item_s=1.0)
    with pytest.raises(model.ModelError, match="differ in length"):
        Profile(n_items=3, per_item_s=1.0, sample_positions=(0.0,))


def test_prediction_terms_compose_the_total(costs: MachineCosts) -> None:
    prof = Profile(n_items=500, per_item_s=5e-4, arg_bytes=1e4, result_bytes=1e4)
    for chunksize in (1, 25, 250):
        p = predict(prof, costs, workers=2, chunksize=chunksize, start_method="forkserver")
        workers_path = p.compute_s + p.worker_serialization_s + p.imbalance_s \
            + p.oversubscription_s
        parent_path = p.dispatch_s + p.serialization_s
        assert p.predicted_s == pytest.approx(p.startup_s + max(workers_path, parent_path))
        assert math.isfinite(p.predicted_s)
        assert set(p.terms()) == {"startup", "dispatch", "serialization", "compute",
                                  "imbalance", "oversubscription"}


def test_a_plain_pool_with_blas_is_predicted_as_it_runs() -> None:
    """Two workers each running BLAS on two threads on two cores oversubscribe them; the
    uncapped row says so, and only the capped row names a cap."""
    costs = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)
    prof = model.Profile(n_items=100, per_item_s=0.01, blas_threads=2,
                         per_item_single_blas_s=0.018)
    plain = model.predict(prof, costs, workers=2, chunksize=10, start_method="fork",
                          cap_blas=False)
    capped = model.predict(prof, costs, workers=2, chunksize=10, start_method="fork")
    assert (plain.blas_threads, capped.blas_threads) == (None, 1)
    assert plain.predicted_s > capped.predicted_s
    assert plain.oversubscription_s > 0


# --- the peers (mpguide.costs.PeerCosts, mpguide.peer_model) ------------------------------


def _peer(tool: str, **changes: object) -> model.PeerCosts:
    return model.PeerCosts.from_record({**model.EXAMPLE_PEER_COSTS[tool], **changes})


def test_the_model_reexports_the_costs_it_was_split_from() -> None:
    from mpguide import costs

    assert model.MachineCosts is costs.MachineCosts
    assert model.ModelError is costs.ModelError
    assert set(costs.__all__) <= set(model.__all__) | {"scaled_startup"}


def test_peer_costs_come_from_the_record() -> None:
    joblib = _peer("joblib")
    assert joblib.start_method == "loky"
    assert joblib.startup_s(2, cores=2) == pytest.approx(0.57)
    assert joblib.startup_s(4, cores=2) == pytest.approx(2 * 0.57)  # two children per core
    assert joblib.ready_s(2, cores=2) == pytest.approx(0.55)
    assert joblib.chunk_overhead_s > 10 * joblib.item_overhead_s > 0
    record = {k: v for k, v in model.EXAMPLE_PEER_COSTS["joblib"].items() if k != "start_s"}
    with pytest.raises(model.ModelError, match="lacks 'start_s'"):
        model.PeerCosts.from_record(record)


def test_joblib_auto_batches_follow_joblibs_rule() -> None:
    """From joblib's parallel.py: 2 * n_jobs single items first, batches doubling while they
    last under 0.2 s, the end of the input cut ten times finer; the next call on the same
    Parallel starts from the size the first one learned."""
    fast = [1e-5] * 5000
    state = peer_model.JoblibAutoBatching()
    first = peer_model.joblib_auto_batches(fast, 2, task_overhead_s=1e-4, item_overhead_s=0,
                                           state=state)
    assert first[:4] == [1, 1, 1, 1]
    assert sum(first) == 5000
    assert max(first) >= 256
    assert first[-1] < max(first) / 10
    second = peer_model.joblib_auto_batches(fast, 2, task_overhead_s=1e-4, item_overhead_s=0,
                                            state=state)
    assert sum(second) == 5000
    assert len(second) < len(first)
    slow = peer_model.joblib_auto_batches([0.3] * 20, 2, task_overhead_s=1e-4,
                                          item_overhead_s=0)
    assert slow == [1] * 20  # a batch of one already lasts over 0.2 s


def test_slow_workers_keep_joblib_batches_small() -> None:
    """A first batch waiting for workers to start lasts long: the ramp starts later."""
    items = [1e-3] * 400
    warm = peer_model.joblib_auto_batches(items, 2, task_overhead_s=1e-4, item_overhead_s=0)
    cold = peer_model.joblib_auto_batches(items, 2, task_overhead_s=1e-4, item_overhead_s=0,
                                          ready_s=1.0)
    def leading_ones(batches: list[int]) -> int:
        return next(i for i, size in enumerate(batches) if size > 1)

    assert leading_ones(cold) > leading_ones(warm) == 4


def test_mpire_default_makes_64_chunks_per_worker() -> None:
    for n_items, workers in ((20_000, 2), (1000, 4), (129, 1)):
        chunks = peer_model.mpire_chunks(n_items, workers)
        assert sum(chunks) == n_items
        assert len(chunks) == min(n_items, 64 * workers)
        assert max(chunks) - min(chunks) <= 1


def test_peer_predictions_name_the_peer_and_compose_like_pools(costs: MachineCosts) -> None:
    prof = Profile(n_items=600, per_item_s=1e-3, arg_bytes=1e3, result_bytes=1e3)
    for tool in ("joblib", "mpire", "dask"):
        for chunksize in (None, 1, 50):
            p = peer_model.predict_peer(prof, costs, _peer(tool), workers=2,
                                        chunksize=chunksize)
            assert (p.tool, p.chunksize) == (tool, chunksize)
            workers_path = p.compute_s + p.worker_serialization_s + p.imbalance_s \
                + p.oversubscription_s
            assert p.predicted_s == pytest.approx(
                p.startup_s + max(workers_path, p.dispatch_s + p.serialization_s))
            warm = peer_model.predict_peer(prof, costs, _peer(tool), workers=2,
                                           chunksize=chunksize, warm=True)
            start_stop = _peer(tool).startup_s(2, cores=2)
            if chunksize is not None:  # joblib's auto batches also change when warm
                assert warm.predicted_s == pytest.approx(p.predicted_s - start_stop)
    dask = peer_model.predict_peer(prof, costs, _peer("dask"), workers=2, chunksize=None)
    assert dask.n_chunks == 600  # one task per item
    assert dask.start_method == "spawn"


def test_peer_blas_threads_are_what_each_tool_gives(costs: MachineCosts) -> None:
    prof = Profile(n_items=100, per_item_s=6e-3, blas_threads=2, per_item_single_blas_s=1e-2)
    kwargs = {"workers": 2, "chunksize": 10}
    joblib = peer_model.predict_peer(prof, costs, _peer("joblib"), **kwargs)
    mpire = peer_model.predict_peer(prof, costs, _peer("mpire"), **kwargs)
    dask = peer_model.predict_peer(prof, costs, _peer("dask"), **kwargs)
    assert (joblib.blas_threads, mpire.blas_threads, dask.blas_threads) == (1, None, 1)
    assert mpire.oversubscription_s > 10 * max(joblib.oversubscription_s, 1e-6)


def test_a_peer_moves_bytes_at_its_measured_rate(costs: MachineCosts) -> None:
    """Big results cost a peer its own measured seconds per byte; without the figure, Pool's
    result path."""
    prof = Profile(n_items=100, per_item_s=1e-4, result_bytes=1e6)
    kwargs = {"workers": 2, "chunksize": 10, "warm": True}
    pipe = _peer("mpire", result_s_per_byte=None)
    fast = _peer("mpire", result_s_per_byte=1e-10)
    slow = _peer("mpire", result_s_per_byte=1e-8)
    assert pipe.channel(costs)[1] == pytest.approx(costs.pool_channel()[1])
    times = [peer_model.predict_peer(prof, costs, peer, **kwargs).serialization_s
             for peer in (fast, pipe, slow)]
    assert times == sorted(times)
    assert times[2] - times[0] == pytest.approx(100 * 1e6 * (1e-8 - 1e-10))


def test_results_full_of_objects_cost_the_collectors_full_passes(costs: MachineCosts) -> None:
    """Results that hold tracked objects pile up in the loop and in a pool's parent alike:
    the full passes over them are in both predictions, more of them over a bigger heap, and
    none for results without tracked objects."""
    plain = Profile(n_items=2000, per_item_s=1e-4, heap_objects=100_000, gc_object_s=3e-7)
    dicts = dataclasses.replace(plain, result_objects=2000.0, allocated_objects=8000.0)
    assert plain.collection_s() == 0.0
    assert dicts.collection_s() > 0.0
    assert dicts.serial_s == pytest.approx(plain.serial_s + dicts.collection_s())
    assert dataclasses.replace(dicts, heap_objects=1_000_000).collection_s() \
        > dicts.collection_s()
    gained = (predict(dicts, costs, workers=2, chunksize=10, start_method="fork").serialization_s
              - predict(plain, costs, workers=2, chunksize=10, start_method="fork").serialization_s)
    assert gained == pytest.approx(dicts.collection_s())
    threads = [predict_threads(p, costs, workers=2).predicted_s for p in (plain, dicts)]
    assert threads[1] - threads[0] == pytest.approx(dicts.collection_s())


def test_a_measured_pool_map_slower_than_modelled_costs_the_parent_per_result(
        costs: MachineCosts) -> None:
    """The excess of the profile's timed map over its own prediction is paid once per result
    in the parent: it is added to every Pool configuration whatever its workers, and to
    neither the loop nor a thread pool; a map no slower than modelled adds nothing."""
    plain = Profile(n_items=400, per_item_s=1e-3, result_bytes=50_000.0)
    sample = dataclasses.replace(plain, n_items=10)
    # What the model says the sample's map takes, start and stop included.
    map_s = predict(sample, costs, workers=2, chunksize=1, start_method="fork").predicted_s
    assert plain.pool_receive_s(costs) == 0.0
    quick = dataclasses.replace(plain, pool_map_s=1e-6, pool_map_items=10, pool_map_workers=2,
                                pool_map_method="fork")
    assert quick.pool_receive_s(costs) == 0.0
    slow = dataclasses.replace(quick, pool_map_s=map_s + 10 * 2e-3)
    assert slow.pool_receive_s(costs) == pytest.approx(2e-3)
    for workers in (1, 2, 4):
        gained = (predict(slow, costs, workers=workers, chunksize=5, start_method="fork")
                  .serialization_s
                  - predict(plain, costs, workers=workers, chunksize=5, start_method="fork")
                  .serialization_s)
        assert gained == pytest.approx(400 * slow.pool_receive_s(costs))
    assert predict_threads(slow, costs, workers=2) == predict_threads(plain, costs, workers=2)
    assert slow.serial_s == plain.serial_s


def test_no_full_pass_before_the_first_chance_or_with_the_collector_off() -> None:
    """A full pass is only considered every ``gc_period_objects`` tracked allocations."""
    few = Profile(n_items=10, per_item_s=0.0, result_objects=1000.0, allocated_objects=1000.0,
                  heap_objects=100, gc_object_s=1e-6)
    assert few.collection_s() > 0.0
    assert dataclasses.replace(few, gc_period_objects=1e6).collection_s() == 0.0
    assert dataclasses.replace(few, gc_period_objects=math.inf).collection_s() == 0.0

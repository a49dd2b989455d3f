"""What this machine's tools cost, as the cost model (:mod:`mpguide.model`) uses it.

:class:`MachineCosts` holds ``multiprocessing.Pool``'s overheads, derived from the machine
card's ``probes`` (:mod:`mpguide.card`); :class:`PeerCosts` holds one peer's (joblib, mpire,
Dask), derived from its record of :func:`mpguide.peer_probes.peer_card`. Both are measured
once per machine with no-op tasks and cached; every field names the probe that measured it.
The function's side of the model is :class:`mpguide.model.Profile`.

Examples
--------
>>> from mpguide.costs import EXAMPLE_PEER_COSTS, EXAMPLE_PROBES, MachineCosts, PeerCosts
>>> MachineCosts.from_probes(EXAMPLE_PROBES, cores=2).startup_s("spawn", 2)
0.05
>>> joblib = PeerCosts.from_record(EXAMPLE_PEER_COSTS["joblib"])
>>> joblib.start_method, round(joblib.startup_s(2, cores=2), 2)
('loky', 0.57)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

#: Probes of a typical 2-core Linux box, for examples and tests only (never used to predict
#: unless passed explicitly): the shape of ``mpguide.card.machine_card()["probes"]``.
EXAMPLE_PROBES: dict[str, Any] = {
    "pool_start_stop_s": {"fork": 0.006, "spawn": 0.05, "forkserver": 0.025},
    "pool_workers": 2,
    "apply_round_trip_s": 1e-4,
    "map_item_overhead_s": 2e-5,
    "map_item_overhead_by_chunksize_s": {"1": 2e-5, "10": 3e-6, "100": 6e-7, "1000": 2e-7},
    "pickle_dumps_bytes_per_s": 1.5e9,
    "pickle_loads_bytes_per_s": 2.5e9,
    "memcpy_bytes_per_s": 5e9,
    "pipe_bytes_per_s": 1e9,
    "pool_argument_bytes_per_s": 6e8,
    "pool_result_bytes_per_s": 4e8,
    "pipe_round_trip_s": 3e-5,
    "shm_create_attach_s": 1e-4,
}

#: The peers' figures on the same kind of box, for examples and tests only: the shape of
#: :func:`mpguide.peer_probes.peer_card` (one record per installed peer).
EXAMPLE_PEER_COSTS: dict[str, dict[str, Any]] = {
    "joblib": {"tool": "joblib", "start_method": "loky", "workers": 2, "start_s": 0.55,
               "stop_s": 0.02, "arg_s_per_byte": 1.5e-9, "result_s_per_byte": 4e-9,
               "overhead_by_chunksize_s": {"1": 2.5e-4, "10": 3e-5, "100": 1e-5, "1000": 8e-6}},
    "mpire": {"tool": "mpire", "start_method": "fork", "workers": 2, "start_s": 0.03,
              "stop_s": 0.12, "arg_s_per_byte": 1.5e-9, "result_s_per_byte": 3e-9,
              "overhead_by_chunksize_s": {"1": 2.5e-4, "10": 3e-5, "100": 1e-5, "1000": 8e-6}},
    "dask": {"tool": "dask", "start_method": "spawn", "workers": 2, "start_s": 4.0,
             "stop_s": 0.5, "arg_s_per_byte": 8e-9, "result_s_per_byte": 4e-9,
             "overhead_by_chunksize_s": {"1": 3e-3, "10": 3e-4, "100": 4e-5, "1000": 1e-5}},
}


def _rate(value: Any) -> float | None:
    """A bytes-per-second figure of the card, ``None`` where the card has none."""
    return None if value is None else float(value)


class ModelError(ValueError):
    """The probes or the profile cannot feed the model (missing key, impossible value)."""


def scaled_startup(probe_s: float, probe_workers: int, workers: int, cores: int, *,
                   forks: bool) -> float:
    """Start+stop of ``workers`` workers from a probe that started ``probe_workers``.

    A parent that forks copies itself once per worker, one after the other, so the cost grows
    with the workers. A child that starts its own interpreter (spawn, forkserver, loky, a Dask
    nanny) imports in parallel with the others on the cores, so the cost grows with children
    per core.

    Examples
    --------
    >>> scaled_startup(0.006, 2, 4, 2, forks=True), scaled_startup(0.05, 2, 4, 2, forks=False)
    (0.012, 0.1)
    """
    if forks:
        return probe_s * workers / probe_workers
    per_child = probe_s * min(probe_workers, cores) / probe_workers
    return per_child * workers / min(workers, cores)


@dataclasses.dataclass(frozen=True)
class MachineCosts:
    """The machine's overhead constants, as the model uses them.

    Built by :meth:`from_probes` from the machine card's ``probes``; every field names the probe
    that measured it.
    """

    #: Usable cores of this machine (``machine.usable_cpus``).
    cores: int
    #: Pool start+stop seconds per start method, with :attr:`probe_workers` workers
    #: (probe ``pool_start_stop_s``).
    start_stop_s: Mapping[str, float]
    #: Workers of the pool the start-up and map probes used (probe ``pool_workers``).
    probe_workers: int
    #: Parent-side seconds per chunk, fitted to ``map_item_overhead_by_chunksize_s``.
    chunk_overhead_s: float
    #: Parent-side seconds per item beyond the chunk cost, same fit.
    item_overhead_s: float
    #: Bytes per second through a pipe between two processes (probe ``pipe_bytes_per_s``).
    pipe_bytes_per_s: float
    #: ``pickle.dumps`` and ``pickle.loads`` bytes per second (probes of the same names), used
    #: only when the profile did not time pickling itself.
    pickle_dumps_bytes_per_s: float
    pickle_loads_bytes_per_s: float
    #: Bytes per second of big arrays through a warm Pool's task path and result path,
    #: pickling included (probes ``pool_argument_bytes_per_s``, ``pool_result_bytes_per_s``;
    #: ``None``: a card without them, priced at the bare pipe's rate).
    argument_path_bytes_per_s: float | None = None
    result_path_bytes_per_s: float | None = None
    #: Cores' worth of CPU this process could get when the advisor ran (measured by
    #: :func:`mpguide.profiler.pool_now`; ``None``: all of :attr:`cores`). On a shared machine
    #: other jobs take the rest, and the workers share what is left.
    free_cores: float | None = None

    def updated(self, now: Any) -> MachineCosts:
        """These costs corrected by a pool the advisor started just now
        (:class:`mpguide.profiler.PoolNow`): its free cores, and its start-up. The card's
        start-up of every start method is scaled by the ratio measured for ``now``'s method,
        so the methods keep the card's proportions while the level follows this moment and
        this ``__main__``.

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
        >>> now = SimpleNamespace(workers=2, start_method="spawn", free_cores=1.5,
        ...                       start_stop_s=0.1)
        >>> fresh = costs.updated(now)
        >>> fresh.free_cores, fresh.start_stop_s["spawn"], fresh.start_stop_s["fork"]
        (1.5, 0.1, 0.012)
        """
        predicted = self.startup_s(now.start_method, now.workers)
        factor = now.start_stop_s / predicted if predicted > 0 else 1.0
        return dataclasses.replace(
            self, free_cores=now.free_cores,
            start_stop_s={m: s * factor for m, s in self.start_stop_s.items()})

    @property
    def parallelism(self) -> float:
        """Cores the workers can really run on: :attr:`free_cores`, at most :attr:`cores`."""
        if self.free_cores is None:
            return float(self.cores)
        return min(float(self.cores), max(1.0, self.free_cores))

    @classmethod
    def from_probes(cls, probes: Mapping[str, Any], cores: int,
                    free_cores: float | None = None) -> MachineCosts:
        """Derive the model's constants from a machine card's ``probes`` dict.

        The per-item map overhead ``o(c)`` measured at chunksizes ``c`` is split into a cost
        per chunk ``a`` and per item ``b`` (``o(c) = a / c + b``) by least squares on relative
        error, so a chunksize the probe never ran is interpolated on a curve of the right
        shape, not on a straight line.

        Examples
        --------
        >>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
        >>> 1.5e-5 < costs.chunk_overhead_s < 2.5e-5, costs.item_overhead_s < 1e-6
        (True, True)
        >>> MachineCosts.from_probes({}, cores=2)
        Traceback (most recent call last):
        ...
        mpguide.costs.ModelError: the machine card's probes lack 'pool_start_stop_s'; ...
        """
        required = ("pool_start_stop_s", "pool_workers", "pipe_bytes_per_s",
                    "pickle_dumps_bytes_per_s", "pickle_loads_bytes_per_s")
        for key in required:
            if key not in probes:
                raise ModelError(f"the machine card's probes lack {key!r}; re-run "
                                 f"`python -m mpguide machine` with this mpguide version.")
        by_chunk = probes.get("map_item_overhead_by_chunksize_s") or {
            "1": probes["map_item_overhead_s"]}
        chunk_s, item_s = fit_chunk_overhead(
            {int(c): float(v) for c, v in by_chunk.items()})
        return cls(
            cores=max(1, int(cores)),
            start_stop_s={m: float(s) for m, s in probes["pool_start_stop_s"].items()},
            probe_workers=max(1, int(probes["pool_workers"])),
            chunk_overhead_s=chunk_s,
            item_overhead_s=item_s,
            pipe_bytes_per_s=float(probes["pipe_bytes_per_s"]),
            pickle_dumps_bytes_per_s=float(probes["pickle_dumps_bytes_per_s"]),
            pickle_loads_bytes_per_s=float(probes["pickle_loads_bytes_per_s"]),
            argument_path_bytes_per_s=_rate(probes.get("pool_argument_bytes_per_s")),
            result_path_bytes_per_s=_rate(probes.get("pool_result_bytes_per_s")),
            free_cores=free_cores,
        )

    def pool_channel(self) -> tuple[float, float]:
        """Seconds per argument byte and per result byte that Pool's task and result paths
        cost the parent beyond the pickling the profile times itself: the measured path
        (:attr:`argument_path_bytes_per_s`, :attr:`result_path_bytes_per_s`) less the
        parent's side of its pickling (``dumps`` of arguments, ``loads`` of results), never
        below the bare pipe (:attr:`pipe_bytes_per_s`). A pipe whose bytes are dropped runs
        several times faster than a Pool whose results are kept (compare the two figures on
        the machine card), so the pipe alone prices big results too cheap.

        Examples
        --------
        >>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
        >>> [round(s * 1e9, 2) for s in costs.pool_channel()]  # ns per byte
        [1.0, 2.1]
        """
        pipe = 1 / self.pipe_bytes_per_s

        def beyond_pickling(path: float | None, pickling: float) -> float:
            return pipe if path is None else max(pipe, 1 / path - 1 / pickling)

        return (beyond_pickling(self.argument_path_bytes_per_s, self.pickle_dumps_bytes_per_s),
                beyond_pickling(self.result_path_bytes_per_s, self.pickle_loads_bytes_per_s))

    def pool_path_s(self, arg_bytes: float, result_bytes: float) -> tuple[float, float]:
        """Seconds Pool's task path and result path took the card's probes to move
        ``arg_bytes`` and ``result_bytes``, pickling included: the least a Pool's parent pays
        for them. The profile times its own pickling on a warm loop of the sample, which can
        run several times faster than a real map's pickling into fresh memory (big ``bytes``
        and arrays); this floor keeps such items from being priced below what Pool measured.
        Zero where a path was not probed.

        >>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
        >>> [round(s * 1e3, 2) for s in costs.pool_path_s(1 << 20, 0)]  # ms for 1 MiB
        [1.75, 0.0]
        """
        def moved(nbytes: float, rate: float | None) -> float:
            return nbytes / rate if rate else 0.0

        return (moved(arg_bytes, self.argument_path_bytes_per_s),
                moved(result_bytes, self.result_path_bytes_per_s))

    def startup_s(self, start_method: str, workers: int) -> float:
        """Pool start+stop for ``workers`` workers (:func:`scaled_startup` of the probe).

        Examples
        --------
        >>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
        >>> costs.startup_s("spawn", 1), costs.startup_s("spawn", 2), costs.startup_s("spawn", 4)
        (0.05, 0.05, 0.1)
        >>> costs.startup_s("fork", 1), costs.startup_s("fork", 4)
        (0.003, 0.012)
        """
        if start_method not in self.start_stop_s:
            raise ModelError(f"no start-up probe for start method {start_method!r}; the card "
                             f"has {', '.join(self.start_stop_s)}.")
        return scaled_startup(self.start_stop_s[start_method], self.probe_workers, workers,
                              self.cores, forks=start_method == "fork")


@dataclasses.dataclass(frozen=True)
class PeerCosts:
    """One peer's overheads on this machine, as the model uses them.

    Built by :meth:`from_record` from a record of :func:`mpguide.peer_probes.peer_card`,
    which measured them as the card measures Pool's: start and stop with the usable cores'
    workers, and the seconds a warm executor adds per item of a no-op map at several
    chunksizes, fitted to a cost per task and per item (:func:`fit_chunk_overhead`).
    """

    #: The peer's tool name: ``"joblib"``, ``"mpire"`` or ``"dask"``.
    tool: str
    #: How its workers start: ``"loky"`` (joblib), mpire's start method, ``"spawn"`` (Dask).
    start_method: str
    #: Workers the probe started (record ``workers``).
    probe_workers: int
    #: Seconds from creating the executor to the end of its first tiny map (record
    #: ``start_s``), and from there to everything stopped (record ``stop_s``).
    start_s: float
    stop_s: float
    #: Parent-side seconds per task (one chunk) and per item beyond it, fitted to the record's
    #: ``overhead_by_chunksize_s``.
    chunk_overhead_s: float
    item_overhead_s: float
    #: Seconds per pickled byte of a big argument and of a big result beyond their pickling
    #: (record ``arg_s_per_byte``, ``result_s_per_byte``); ``None``: Pool's pipe rate.
    arg_s_per_byte: float | None = None
    result_s_per_byte: float | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PeerCosts:
        """The costs of one record of :func:`mpguide.peer_probes.peer_card`.

        Examples
        --------
        >>> dask = PeerCosts.from_record(EXAMPLE_PEER_COSTS["dask"])
        >>> dask.chunk_overhead_s > 100 * dask.item_overhead_s
        True
        """
        try:
            by_chunk = {int(c): float(v) for c, v in record["overhead_by_chunksize_s"].items()}
            chunk_s, item_s = fit_chunk_overhead(by_chunk)
            return cls(tool=str(record["tool"]), start_method=str(record["start_method"]),
                       probe_workers=max(1, int(record["workers"])),
                       start_s=float(record["start_s"]), stop_s=float(record["stop_s"]),
                       chunk_overhead_s=chunk_s, item_overhead_s=item_s,
                       arg_s_per_byte=_optional(record.get("arg_s_per_byte")),
                       result_s_per_byte=_optional(record.get("result_s_per_byte")))
        except KeyError as exc:
            raise ModelError(f"the peer record lacks {exc.args[0]!r}; re-measure it with "
                             f"this mpguide version (mpguide.peer_probes).") from None

    def channel(self, costs: MachineCosts) -> tuple[float, float]:
        """Seconds per argument byte and per result byte (Pool's channel,
        :meth:`MachineCosts.pool_channel`, where not measured)."""
        arg_byte, result_byte = costs.pool_channel()
        return (arg_byte if self.arg_s_per_byte is None else self.arg_s_per_byte,
                result_byte if self.result_s_per_byte is None else self.result_s_per_byte)

    def ready_s(self, workers: int, cores: int) -> float:
        """Seconds until ``workers`` workers have run their first task."""
        return scaled_startup(self.start_s, self.probe_workers, workers, cores,
                              forks=self.start_method == "fork")

    def startup_s(self, workers: int, cores: int) -> float:
        """Start and stop of ``workers`` workers (:func:`scaled_startup` of the probe)."""
        return scaled_startup(self.start_s + self.stop_s, self.probe_workers, workers, cores,
                              forks=self.start_method == "fork")


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


def fit_chunk_overhead(overhead_by_chunksize: Mapping[int, float]) -> tuple[float, float]:
    """Split per-item map overhead ``o(c)`` into ``a`` per chunk and ``b`` per item.

    Minimises the relative error of ``a / c + b`` against the probe; both stay >= 0.

    Examples
    --------
    >>> a, b = fit_chunk_overhead({1: 2.1e-5, 10: 3e-6, 100: 1.2e-6, 1000: 1e-6})
    >>> round(a * 1e6), round(b * 1e6, 1)
    (20, 1.0)
    """
    import numpy as np

    points = sorted((c, v) for c, v in overhead_by_chunksize.items() if c >= 1 and v > 0)
    if not points:
        raise ModelError("the per-item map overhead probe holds no positive value.")
    if len(points) == 1:
        c, v = points[0]
        return v * c, 0.0
    rows = np.array([[1.0 / (c * v), 1.0 / v] for c, v in points])
    (a, b), *_ = np.linalg.lstsq(rows, np.ones(len(points)), rcond=None)
    if b < 0:
        a, b = float(np.mean([c * v for c, v in points])), 0.0
    if a < 0:
        a, b = 0.0, float(np.mean([v for _, v in points]))
    return float(a), float(b)


__all__ = ["EXAMPLE_PEER_COSTS", "EXAMPLE_PROBES", "MachineCosts", "ModelError", "PeerCosts",
           "fit_chunk_overhead", "scaled_startup"]

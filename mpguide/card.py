"""The machine card: this machine's metadata and its multiprocessing overhead figures.

:func:`machine_card` returns one flat JSON-ready dict: the fields of
:func:`mpguide.machine.collect_metadata` at the top level, plus

- ``probes``: the figures of :mod:`mpguide.probes` (medians), under the keys of
  :data:`PROBE_KEYS` (seconds, bytes per second, or a worker count);
- ``probe_spread``: the relative IQR (IQR / median) of each figure, under the same scalar keys
  plus ``"key.sub"`` for the entries of dict-valued figures (``"pool_start_stop_s.spawn"``);
- ``probe_main``: the ``__main__`` the probes ran from; ``probe_start_method``: the start
  method of the warm-pool probes (``apply``, ``map``, pipes);
- ``probe_seconds``: how long probing took.

Every probe runs in a fresh interpreter (:func:`mpguide.runner.run_fresh`), so the card
describes a plain script whatever imported mpguide. The card is cached
(:class:`mpguide.cache.ResultCache`, experiment ``"machine-card"``); ``fresh=True`` re-measures.
``python -m mpguide machine [--json]`` prints it.

Examples
--------
>>> from mpguide import card
>>> card.PROBE_KEYS[:3]
('pool_start_stop_s', 'pool_workers', 'apply_round_trip_s')
>>> card.unit_of("pipe_bytes_per_s"), card.unit_of("pool_start_stop_s.spawn")
('bytes/s', 's')
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import config, machine, probes, runner
from mpguide.cache import ResultCache
from mpguide.timing import Measurement

if TYPE_CHECKING:
    import pandas as pd

#: The keys of ``card["probes"]``; helpers and the cost model code against them.
PROBE_KEYS = (
    "pool_start_stop_s", "pool_workers", "apply_round_trip_s", "map_item_overhead_s",
    "map_item_overhead_by_chunksize_s", "pickle_dumps_bytes_per_s", "pickle_loads_bytes_per_s",
    "memcpy_bytes_per_s", "pipe_bytes_per_s", "pool_argument_bytes_per_s",
    "pool_result_bytes_per_s", "pipe_round_trip_s", "shm_create_attach_s",
)

#: Cache experiment name of the card.
EXPERIMENT = "machine-card"

Progress = Callable[[str], None]


def machine_card(fresh: bool = False, *, progress: Progress | None = None,
                 cache: ResultCache | None = None) -> dict[str, Any]:
    """The machine card: cached, measured (in fresh interpreters) when missing or ``fresh``.

    Parameters
    ----------
    fresh
        Re-measure even when a cached card exists.
    progress
        Called with one line per probe step while measuring (the CLI prints them on stderr).
    cache
        Where to cache the card (default: :class:`ResultCache` in its default directory).
    """
    params = {"mode": config.mode(), "start_methods": config.available_start_methods()}
    measure = functools.partial(measure_card, progress=progress)
    card: dict[str, Any] = (cache or ResultCache()).get_or_measure(EXPERIMENT, params, measure,
                                                                   fresh=fresh)
    return card


def _steps(start_methods: Sequence[str], workers: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, probe name, probe kwargs) of each fresh-interpreter step of the card."""
    return [
        *((f"pool start+stop ({method})", "pool_start_stop",
           {"start_method": method, "workers": workers, "fresh": False})
          for method in start_methods),
        ("apply round trip", "apply_round_trip", {"workers": workers}),
        ("map overhead by chunksize", "map_item_overhead",
         {"chunksizes": list(probes.CHUNKSIZES), "workers": workers}),
        ("pickle dumps/loads", "pickle_throughput", {"kind": "ndarray", "protocol": 5}),
        ("memcpy", "memcpy", {}),
        ("pipe round trip", "pipe_round_trip", {}),
        ("pipe throughput", "pipe_throughput", {}),
        *((f"Pool {direction} path", "pool_transfer",
           {"direction": direction, "workers": workers}) for direction in probes.TRANSFER_TASKS),
        ("shared memory create+attach", "shm_create_attach", {}),
    ]


def measure_card(mode: str, start_methods: Sequence[str],
                 progress: Progress | None = None) -> dict[str, Any]:
    """Measure the card now: metadata plus every probe, each step in a fresh interpreter.

    ``mode`` (``"quick"`` or ``"full"``) is passed to the children as ``MPGUIDE_QUICK``.
    """
    if mode not in {"quick", "full"}:
        raise config.ConfigError(f"mode must be 'quick' or 'full', got {mode!r}")
    meta = machine.collect_metadata()
    workers = meta["usable_cpus"]
    env = {"MPGUIDE_QUICK": "1" if mode == "quick" else "0"}
    steps = _steps(start_methods, workers)
    records: list[Measurement] = []
    started = time.perf_counter()
    for index, (label, name, kwargs) in enumerate(steps, start=1):
        if progress is not None:
            progress(f"[{index}/{len(steps)}] {label}")
        result = runner.run_fresh("mpguide.probes:run_probe", {"name": name, "kwargs": kwargs},
                                  env=env, timeout=config.DEFAULT_TIMEOUT * 5)
        records.extend(Measurement.from_dict(record) for record in result)
    figures, spread = _figures(records, workers)
    return {**meta, "mode": mode, "probes": figures, "probe_spread": spread,
            "probe_main": probes.FRESH_MAIN,
            "probe_start_method": next(r.params["start_method"] for r in records
                                       if r.name == "apply_round_trip"),
            "probe_seconds": round(time.perf_counter() - started, 2)}


def _figures(records: Sequence[Measurement],
             workers: int) -> tuple[dict[str, Any], dict[str, float]]:
    """The ``probes`` and ``probe_spread`` dicts of the card from the probes' records."""
    by_name: dict[str, list[Measurement]] = {}
    for record in records:
        by_name.setdefault(record.name, []).append(record)
    figures: dict[str, Any] = {}
    spread: dict[str, float] = {}

    def put(key: str, record: Measurement, value: float, sub: str | None = None) -> None:
        relative = record.stats.relative_spread
        if sub is None:
            figures[key], spread[key] = value, relative
        else:
            figures.setdefault(key, {})[sub] = value
            spread[f"{key}.{sub}"] = relative

    for record in by_name["pool_start_stop"]:
        put("pool_start_stop_s", record, record.median, record.params["start_method"])
    figures["pool_workers"] = workers
    (apply,) = by_name["apply_round_trip"]
    put("apply_round_trip_s", apply, apply.median)
    for record in by_name["map_item_overhead"]:
        put("map_item_overhead_by_chunksize_s", record, record.median,
            str(record.params["chunksize"]))
    first = by_name["map_item_overhead"][0]
    put("map_item_overhead_s", first, first.median)
    for name, key in (("pickle_dumps", "pickle_dumps_bytes_per_s"),
                      ("pickle_loads", "pickle_loads_bytes_per_s"),
                      ("memcpy", "memcpy_bytes_per_s"), ("pipe_throughput", "pipe_bytes_per_s")):
        (record,) = by_name[name]
        put(key, record, probes.bytes_per_s(record))
    for record in by_name["pool_transfer"]:
        put(f"pool_{record.params['direction']}_bytes_per_s", record, probes.bytes_per_s(record))
    for name in ("pipe_round_trip", "shm_create_attach"):
        (record,) = by_name[name]
        put(f"{name}_s", record, record.median)
    return {key: figures[key] for key in PROBE_KEYS}, spread


def unit_of(key: str) -> str:
    """Unit of a probe key (``"s"``, ``"bytes/s"`` or ``"workers"``), sub-keys included."""
    key = key.partition(".")[0]
    if key.endswith("_bytes_per_s"):
        return "bytes/s"
    if key.endswith("_s"):
        return "s"
    return "workers"


def card_frame(card: Mapping[str, Any]) -> pd.DataFrame:
    """The probes of a card as a DataFrame: one row per figure (``probe``, ``value``,
    ``unit``, ``spread``), dict-valued figures flattened to ``"key.sub"``.

    Examples
    --------
    >>> df = card_frame({"probes": {"pool_start_stop_s": {"fork": 0.01}, "pool_workers": 2},
    ...                  "probe_spread": {"pool_start_stop_s.fork": 0.1}})
    >>> df.to_dict("records")[0]
    {'probe': 'pool_start_stop_s.fork', 'value': 0.01, 'unit': 's', 'spread': 0.1}
    """
    import pandas as pd

    rows = []
    for key, value in card["probes"].items():
        items = value.items() if isinstance(value, Mapping) else [(None, value)]
        for sub, figure in items:
            probe = key if sub is None else f"{key}.{sub}"
            rows.append({"probe": probe, "value": figure, "unit": unit_of(probe),
                         "spread": card.get("probe_spread", {}).get(probe, float("nan"))})
    frame: pd.DataFrame = pd.DataFrame(rows, columns=["probe", "value", "unit", "spread"])
    return frame


def format_value(value: float, unit: str) -> str:
    """A figure for people: seconds in s/ms/µs/ns, bytes/s in GB/s or MB/s.

    Examples
    --------
    >>> format_value(0.0123, "s"), format_value(2.5e-6, "s"), format_value(1.9e9, "bytes/s")
    ('12.3 ms', '2.5 µs', '1.90 GB/s')
    """
    if unit == "s":
        for scale, suffix in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
            if abs(value) >= scale:
                return f"{value / scale:.3g} {suffix}"
        return f"{value * 1e9:.3g} ns"
    if unit == "bytes/s":
        if value >= 1e9:
            return f"{value / 1e9:.2f} GB/s"
        return f"{value / 1e6:.0f} MB/s" if value >= 1e6 else f"{value:.3g} B/s"
    return f"{value:g}"


#: Metadata fields shown above the probe table by :func:`format_card`.
SHOWN_METADATA = ("cpu_model", "cpu_count", "usable_cpus", "usable_cpus_from", "memory_total_gib",
                  "platform", "python", "numpy", "blas", "blas_threads", "start_methods",
                  "default_start_method", "mpguide_version", "date", "mode", "load_avg_1m")


def format_card(card: Mapping[str, Any]) -> str:
    """The card as a readable text table: metadata, then one line per probe figure.

    Examples
    --------
    >>> print(format_card({"python": "3.11.7", "probe_main": "m", "probe_start_method": "fork",
    ...                    "probes": {"apply_round_trip_s": 3.2e-5}, "probe_spread": {}}))
    python                   3.11.7
    probes ran from          m (warm pools: fork)
    <BLANKLINE>
    probe                                      value     spread
    apply_round_trip_s                        32 µs          -
    """
    width = max(len(k) for k in SHOWN_METADATA) + 3
    lines = [f"{key:<{width}}{card[key]}" for key in SHOWN_METADATA if key in card]
    lines.append(f"{'probes ran from':<{width}}{card.get('probe_main', '?')} "
                 f"(warm pools: {card.get('probe_start_method', '?')})")
    lines += ["", f"{'probe':<36}{'value':>14}{'spread':>11}"]
    frame = card_frame(card)
    # Column by column, as itertuples() does, so that each value keeps its column's type.
    for probe, value, unit, share in zip(frame["probe"], frame["value"], frame["unit"],
                                         frame["spread"], strict=True):
        spread = "-" if share != share else f"{share:.0%}"  # noqa: PLR0124 (a NaN test)
        lines.append(f"{probe:<36}{format_value(value, unit):>14}{spread:>11}")
    return "\n".join(lines)


__all__ = ["EXPERIMENT", "PROBE_KEYS", "card_frame", "format_card", "format_value",
           "machine_card", "measure_card", "unit_of"]

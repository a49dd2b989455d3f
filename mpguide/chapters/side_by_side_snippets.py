"""Chapter 7's "What to copy": the code a reader writes for each row of the line-up.

:data:`SNIPPETS` holds, for the loop and each row of
:data:`~mpguide.chapters.side_by_side.WAYS`, the plain ``multiprocessing``,
``concurrent.futures``, joblib, mpire or Dask code that maps ``func`` over ``items`` with
``workers`` workers, every wait bounded; it needs nothing from mpguide. The page shows them
(:func:`snippets_markdown`), the tables count their lines (:func:`snippet_lines`) and the
tests run every one.

Examples
--------
>>> from mpguide.chapters import side_by_side, side_by_side_snippets
>>> side_by_side_snippets.snippet_lines("loop")
1
>>> tuple(side_by_side_snippets.SNIPPETS) == ("loop", *side_by_side.WAYS)
True
"""

from __future__ import annotations

from collections.abc import Sequence

from mpguide import config
from mpguide.chapters import side_by_side

CHAPTER = side_by_side.CHAPTER

#: What a user writes for each row (and the loop), given ``func``, ``items`` and ``workers``;
#: ``{method}`` is the start method. Every wait is bounded (600 s).
SNIPPETS = {
    "loop": "results = [func(x) for x in items]\n",
    "Pool": '''\
import multiprocessing

with multiprocessing.get_context("{method}").Pool(workers) as pool:
    results = pool.map_async(func, items).get(timeout=600)
''',
    "ProcessPoolExecutor": '''\
import concurrent.futures
import multiprocessing

context = multiprocessing.get_context("{method}")
with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as executor:
    results = list(executor.map(func, items, timeout=600))
''',
    "ProcessPoolExecutor, Pool's chunks": '''\
import concurrent.futures
import multiprocessing

chunk = -(-len(items) // (4 * workers))  # what Pool.map picks by itself
context = multiprocessing.get_context("{method}")
with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as executor:
    results = list(executor.map(func, items, chunksize=chunk, timeout=600))
''',
    "joblib": '''\
from joblib import Parallel, delayed

results = Parallel(n_jobs=workers, timeout=600)(delayed(func)(x) for x in items)
''',
    "joblib, Pool's chunks": '''\
from joblib import Parallel, delayed

chunk = -(-len(items) // (4 * workers))  # what Pool.map picks by itself
parallel = Parallel(n_jobs=workers, batch_size=chunk, timeout=600)
results = parallel(delayed(func)(x) for x in items)
''',
    "mpire": '''\
from mpire import WorkerPool
from mpire.utils import make_single_arguments

with WorkerPool(n_jobs=workers, start_method="{method}") as pool:
    results = pool.map(func, make_single_arguments(items, generator=False),
                       concatenate_numpy_output=False, task_timeout=600)
''',
    "mpire, Pool's chunks": '''\
from mpire import WorkerPool
from mpire.utils import make_single_arguments

chunk = -(-len(items) // (4 * workers))  # what Pool.map picks by itself
with WorkerPool(n_jobs=workers, start_method="{method}") as pool:
    results = pool.map(func, make_single_arguments(items, generator=False), chunk_size=chunk,
                       concatenate_numpy_output=False, task_timeout=600)
''',
    "Dask": '''\
from distributed import Client, LocalCluster, wait

with LocalCluster(n_workers=workers, threads_per_worker=1) as cluster:
    with Client(cluster) as client:
        futures = client.map(func, items, pure=False)
        wait(futures, timeout=600)
        results = client.gather(futures)
''',
    "Dask, Pool's chunks": '''\
from distributed import Client, LocalCluster, wait


def run_chunk(chunk):
    return [func(x) for x in chunk]


size = -(-len(items) // (4 * workers))  # what Pool.map picks by itself
chunks = [items[i:i + size] for i in range(0, len(items), size)]
with LocalCluster(n_workers=workers, threads_per_worker=1) as cluster:
    with Client(cluster) as client:
        futures = client.map(run_chunk, chunks, pure=False)
        wait(futures, timeout=600)
        results = [result for chunk in client.gather(futures) for result in chunk]
''',
    "threads": '''\
import concurrent.futures

with concurrent.futures.ThreadPoolExecutor(workers) as executor:
    results = list(executor.map(func, items, timeout=600))
''',
}


def snippet(way: str, method: str | None = None) -> str:
    """The code of :data:`SNIPPETS` for ``way``, for start method ``method`` (default: the
    one experiments use).

    >>> print(snippet("Pool", "spawn"))
    import multiprocessing
    <BLANKLINE>
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = pool.map_async(func, items).get(timeout=600)
    <BLANKLINE>
    """
    return SNIPPETS[way].replace("{method}", config.resolve_start_method(method))


def snippet_lines(way: str) -> int:
    """Lines of code of the snippet of ``way``: its non-blank lines that are not comments.

    >>> snippet_lines("Pool"), snippet_lines("Dask, Pool's chunks")
    (3, 10)
    """
    return sum(1 for line in SNIPPETS[way].splitlines()
               if line.strip() and not line.lstrip().startswith("#"))


def snippets_markdown(ways: Sequence[str] = ("loop", *side_by_side.WAYS),
                      method: str | None = None) -> str:
    """The snippets of ``ways`` as Markdown: a heading line and a code block each, with the
    number of lines :func:`snippet_lines` counts."""
    blocks = []
    for way in ways:
        lines = snippet_lines(way)
        blocks.append(f"**{way}** ({lines} line{'s' * (lines != 1)}):\n\n```python\n"
                      f"{snippet(way, method).rstrip()}\n```\n")
    return "\n".join(blocks)

"""Chapter 2, "Moving data between processes": a file read cold from the disk, and warm.

:mod:`mpguide.chapters.transfer` declares the chapter. A file written a moment ago is still in
the operating system's page cache, so a worker that reads it back reads memory, not the disk
(the file experiments of :mod:`mpguide.chapters.send_less` read such files). Here the workers
of a started pool read a file of random bytes, a slice each, twice in a row: first *cold*,
after :func:`drop_cached` asked the kernel to forget its pages (``posix_fadvise`` with
``POSIX_FADV_DONTNEED``, which needs no privileges for a file this process wrote and synced),
then *warm*. :func:`cached_share` checks what the drop left in the cache (``mincore``), and
the records name the file system: on ``tmpfs`` the file lives in memory and nothing can be
dropped. :func:`load_disk_cache` runs it through :func:`mpguide.experiment.run_cached`.

Examples
--------
>>> import tempfile
>>> from mpguide.chapters import disk_cache
>>> with tempfile.TemporaryDirectory() as folder:
...     path = disk_cache.write_synced(f"{folder}/data.bin", 1 << 16)
...     read = disk_cache.read_slice((path, 0, 1 << 16))
>>> read
65536
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, machine, pools, timing
from mpguide.chapters.transfer import CHAPTER, FRESH_TIMEOUT, MIB, _metadata
from mpguide.experiment import REPEATS, run_cached

if TYPE_CHECKING:
    import pandas as pd

#: Bytes written or read at a time.
BLOCK = 4 * MIB
#: The two reads of each repeat, in order.
STATES = ("cold", "warm")


def write_synced(path: str, nbytes: int) -> str:
    """Write ``nbytes`` random bytes to ``path`` and sync them to the disk (clean pages,
    which the kernel may drop); returns ``path``."""
    with open(path, "wb") as out:
        out.writelines(os.urandom(min(BLOCK, nbytes - start))
                       for start in range(0, nbytes, BLOCK))
        out.flush()
        os.fsync(out.fileno())
    return path


def drop_cached(path: str) -> None:
    """Ask the kernel to drop the file's pages from the page cache (a no-op where
    ``posix_fadvise`` does not exist, or on a file system that keeps files in memory)."""
    if hasattr(os, "posix_fadvise"):
        with open(path, "rb") as handle:
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def cached_share(path: str) -> float | None:
    """Share of the file's pages in the page cache (``mincore`` of a mapping, which reads
    nothing in), ``None`` off Linux or where it cannot tell."""
    size = os.path.getsize(path)
    if not sys.platform.startswith("linux") or not size:
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pages = -(-size // mmap.PAGESIZE)
    vector = (ctypes.c_ubyte * pages)()
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), size,
                                               access=mmap.ACCESS_COPY) as mapped:
        anchor = ctypes.c_char.from_buffer(mapped)
        try:
            failed = libc.mincore(ctypes.c_void_p(ctypes.addressof(anchor)),
                                  ctypes.c_size_t(size), vector)
        finally:
            del anchor
    return None if failed else sum(byte & 1 for byte in vector) / pages


def file_system(path: str) -> str:
    """Type of the file system holding ``path`` (``"ext4"``, ``"tmpfs"``, ...), ``"?"``
    where unknown.

    >>> file_system(tempfile.gettempdir()) != ""
    True
    """
    import psutil

    path = os.path.realpath(path)
    mounts = [p for p in psutil.disk_partitions(all=True)
              if path == p.mountpoint or path.startswith(p.mountpoint.rstrip("/") + "/")]
    return max(mounts, key=lambda p: len(p.mountpoint)).fstype if mounts else "?"


def read_slice(job: tuple[str, int, int]) -> int:
    """Read ``length`` bytes of file ``path`` from ``offset`` (a job ``(path, offset,
    length)``); returns how many bytes it read."""
    path, offset, length = job
    buffer, read = bytearray(BLOCK), 0
    with open(path, "rb", buffering=0) as handle:
        handle.seek(offset)
        while read < length:
            got = handle.readinto(memoryview(buffer)[:min(BLOCK, length - read)])
            if not got:
                break
            read += got
    return read


def measure_disk_cache(nbytes: int, workers: int, repeats: int,
                       start_method: str) -> list[dict[str, Any]]:
    """Seconds for ``Pool(workers)`` (started) to read a file of ``nbytes`` written in the
    temporary folder, a slice per worker, cold then warm, ``repeats`` times; with the share
    of its pages cached before each read and the file system."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="mpguide-disk-") as folder:
        path = write_synced(os.path.join(folder, "data.bin"), nbytes)
        step = -(-nbytes // workers)
        jobs = [(path, start, min(step, nbytes - start)) for start in range(0, nbytes, step)]
        meta = {**_metadata(start_method), "file_system": file_system(folder)}
        with pools.bounded_pool(workers, start_method, FRESH_TIMEOUT) as pool:
            pools.wait_result(pool.map_async(read_slice, [(path, 0, 0)] * workers), pool,
                              FRESH_TIMEOUT / 4)
            for repeat in range(repeats):
                for state in STATES:
                    if state == "cold":
                        drop_cached(path)
                    share = cached_share(path)
                    start = time.perf_counter()
                    read = pools.wait_result(pool.map_async(read_slice, jobs, chunksize=1),
                                             pool, FRESH_TIMEOUT / 4)
                    seconds = time.perf_counter() - start
                    if sum(read) != nbytes:
                        raise RuntimeError(f"the workers read {sum(read)} of {nbytes} bytes")
                    rows.append({"state": state, "repeat": repeat, "seconds": seconds,
                                 "cached_share": share, "nbytes": nbytes, "workers": workers,
                                 **meta})
    return rows


def disk_cache_params(start_method: str | None = None) -> dict[str, Any]:
    """The ``run_cached`` params of :func:`load_disk_cache`, not run: a 256 MiB file (64 MiB
    in quick mode), halved until four of it fit on the temporary folder's disk; a worker per
    usable core; the build's start method.

    Examples
    --------
    >>> params = disk_cache_params()
    >>> params["workers"] == machine.usable_cpus(), params["nbytes"] % MIB
    (True, 0)
    """
    nbytes = config.scaled(256, 64) * MIB
    with contextlib.suppress(OSError):
        free = os.statvfs(tempfile.gettempdir())
        while nbytes > MIB and 4 * nbytes > free.f_bavail * free.f_frsize:
            nbytes //= 2
    return {"nbytes": nbytes, "workers": machine.usable_cpus(),
            "repeats": REPEATS, "start_method": config.resolve_start_method(
                start_method)}


def load_disk_cache(start_method: str | None = None) -> pd.DataFrame:
    """One row per read (cold or warm) and repeat: seconds, cached share, file system."""
    import pandas as pd

    return pd.DataFrame(run_cached("transfer-disk-cache", f"{__name__}:measure_disk_cache",
                                   disk_cache_params(start_method), timeout=FRESH_TIMEOUT)
                        or [])


def disk_cache_table(df: pd.DataFrame) -> pd.DataFrame:
    """Cold and warm reads: median seconds (IQR), GiB/s and the median share of the file's
    pages that were cached before the read."""
    table = timing.summarize(df, ["state"], value="seconds").set_index("state")
    table["GiB/s"] = float(df["nbytes"].iloc[0]) / 2**30 / table["median"]
    table["cached before"] = df["cached_share"].astype(float).groupby(df["state"]).median()
    return table.loc[list(STATES), ["median", "iqr", "GiB/s", "cached before"]]


# --- claims -----------------------------------------------------------------------------------


#: How many times longer than the warm read the cold read must take for "the page cache
#: hides the disk": twice (a local NVMe disk reads a few GB/s, the page cache is a copy out
#: of memory at several times that; a network disk is slower still, a tmpfs equal).
COLD_OVER_WARM = 2.0


@claims.claim("page-cache-hides-the-disk", chapter=CHAPTER,
              statement="Read by {workers} workers, a {mib:.0f} MiB file took {warm:.3f} s "
                        "from the page cache and {cold:.3f} s from the disk after its pages "
                        "were dropped: the cold read was {ratio:.1f|slower|faster} (claimed: "
                        "more than {threshold:.0f} times as long), so a file read soon after it was "
                        "written costs memory speed, not disk speed.")
def _page_cache_hides_the_disk() -> claims.Evidence:
    df = load_disk_cache()
    table = disk_cache_table(df)
    medians = table["median"].astype(float)
    cold, warm = float(medians["cold"]), float(medians["warm"])
    left = table["cached before"].map(lambda s: "unknown" if math.isnan(s) else f"{s:.0%}")
    return claims.Evidence(
        holds=cold / warm > COLD_OVER_WARM,
        values={"workers": int(df["workers"].iloc[0]), "mib": float(df["nbytes"].iloc[0]) / MIB,
                "warm": warm, "cold": cold, "ratio": cold / warm, "threshold": COLD_OVER_WARM},
        evidence=f"Medians of {int((df['state'] == 'cold').sum())} reads each, the file on "
                 f"{df['file_system'].iloc[0]}; share of its pages in the page cache before a "
                 f"cold read: {left['cold']}, before a warm one: {left['warm']}.")

"""A child process that answers size requests over a ``multiprocessing.Pipe``, every wait
bounded: the peer of the pipe probes (:func:`mpguide.probes.pipe_round_trip`,
:func:`mpguide.probes.pipe_throughput`).

Examples
--------
>>> from mpguide.pipe_peer import PipePeer
>>> peer = PipePeer("fork", 64, timeout=10)
>>> peer.request(16)
16
>>> peer.close()
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.process
from collections.abc import Callable
from typing import Any, TypeVar

from mpguide import config, pools

_T = TypeVar("_T")


def _pipe_server(conn: Any, max_bytes: int) -> None:
    """Echo server of the pipe probes: each request ``n`` is answered with ``n`` zero bytes;
    an empty request (or a closed pipe) ends it."""
    payload = bytes(max_bytes)
    try:
        while True:
            request = conn.recv_bytes()
            if not request:
                return
            conn.send_bytes(payload, 0, int.from_bytes(request, "little"))
    except EOFError:
        return
    finally:
        conn.close()


class PipePeer:
    """A child process answering size requests over a ``multiprocessing.Pipe``; bounded."""

    def __init__(self, method: str, max_bytes: int, timeout: float) -> None:
        ctx = multiprocessing.get_context(method)
        self.timeout = timeout
        self.conn, child_conn = ctx.Pipe()
        # typeshed types get_context(str) as BaseContext, which lacks Process; every context
        # it really returns (fork, spawn, forkserver) has it: hence the ignore.
        self.process: multiprocessing.process.BaseProcess
        self.process = ctx.Process(  # type: ignore[attr-defined]
            target=_pipe_server, args=(child_conn, max_bytes), daemon=True,
            name="mpguide-pipe-probe")
        self.process.start()
        child_conn.close()

    def request(self, nbytes: int) -> int:
        """Ask for ``nbytes`` bytes and return how many came back, within the timeout."""
        self.conn.send_bytes(nbytes.to_bytes(8, "little"))
        if not self.conn.poll(self.timeout):
            raise pools.PoolTimeoutError(f"the pipe probe's peer did not answer within "
                                         f"{self.timeout:g} s; it was killed.")
        return len(self.conn.recv_bytes())

    def close(self) -> None:
        """Tell the peer to stop, then join it (killed if it does not stop in time)."""
        with contextlib.suppress(OSError):
            self.conn.send_bytes(b"")
        self.process.join(self.timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(self.timeout)
        self.conn.close()
        self.process.close()


def with_peer(method: str | None, max_bytes: int, timeout: float | None,
              probe: Callable[[PipePeer, str], _T]) -> _T:
    """``probe(peer, method)`` on a new :class:`PipePeer` of ``method`` (default: the
    configured start method), closed afterwards."""
    method = config.resolve_start_method(method)
    peer = PipePeer(method, max_bytes, config.DEFAULT_TIMEOUT if timeout is None else timeout)
    try:
        return probe(peer, method)
    finally:
        peer.close()


__all__ = ["PipePeer", "with_peer"]

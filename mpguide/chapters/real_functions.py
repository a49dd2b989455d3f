"""Real functions for the advisor's held-out validation: standard-library code as scripts use it.

The advisor's own validation set (:data:`mpguide.chapters.advisor.WORKLOADS`) is made of
synthetic tasks: busy loops, sleeps, payload factories. These are the other kind, the calls a
reader parallelizes: hashing and compression (C code that releases the GIL on big buffers),
JSON parsing and a regex word count (C and Python code that holds it and returns dicts of
thousands of objects), and a pure-Python edit distance. Their items are built here,
deterministically (seeded), sized so that each loop lasts a fraction of a second.

Examples
--------
>>> from mpguide.chapters import real_functions as real
>>> real.edit_distance(("kitten", "sitting"))
3
>>> real.word_counts("the cat and the hat")["the"]
2
>>> len(real.sha256_hex(b"abc"))
64
>>> real.parse_json('{"a": [1, 2]}')
{'a': [1, 2]}
"""

from __future__ import annotations

import collections
import hashlib
import json
import random
import re
import zlib
from typing import Any

from mpguide import config
from mpguide.chapters import advisor

CHAPTER = advisor.CHAPTER

__all__ = ["REAL_WORKLOADS", "compress_items", "compress_text", "document_items", "edit_distance", "hash_items",
           "json_items", "pair_items", "parse_json", "sha256_hex", "word_counts"]

#: Words of the generated texts: this many distinct ones, drawn with a skewed frequency as
#: words of a real text are.
VOCABULARY = 4000
_WORD = re.compile(r"[a-z']+")


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` in hex (``hashlib`` releases the GIL on buffers of 2 KiB or more)."""
    return hashlib.sha256(data).hexdigest()


def compress_text(data: bytes) -> int:
    """Size of ``data`` compressed by zlib at level 6 (zlib releases the GIL while it works)."""
    return len(zlib.compress(data, 6))


def parse_json(document: str) -> Any:
    """``json.loads(document)``: holds the GIL, and returns the parsed objects, a big result."""
    return json.loads(document)


def word_counts(text: str) -> dict[str, int]:
    """How often each word occurs in ``text`` (a regex and a ``Counter``: holds the GIL and
    returns a dict of thousands of entries)."""
    return dict(collections.Counter(_WORD.findall(text.lower())))


def edit_distance(pair: tuple[str, str]) -> int:
    """Levenshtein distance of two strings, the textbook dynamic programme in pure Python."""
    a, b = pair
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def _vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(2, 10))) for _ in range(VOCABULARY)]


def _text(rng: random.Random, words: list[str], n_words: int) -> str:
    """``n_words`` words of ``words``, Zipf-like (a word's weight falls with its rank)."""
    weights = [1 / (rank + 1) for rank in range(len(words))]
    return " ".join(rng.choices(words, weights=weights, k=n_words))


def hash_items(count: int | None = None, nbytes: int | None = None) -> list[bytes]:
    """Distinct random buffers of ``nbytes`` (2 MiB, 1 MiB in quick mode), ``count`` of them
    (32, 24 in quick mode): what :func:`sha256_hex` digests."""
    count = count or config.scaled(32, 24)
    nbytes = nbytes or config.scaled(2, 1) * 2**20
    return [random.Random(i).randbytes(nbytes) for i in range(count)]


def compress_items(count: int | None = None, n_words: int | None = None) -> list[bytes]:
    """Texts of ``n_words`` words (40 000, about 250 KB; 30 000 in quick mode) as UTF-8
    bytes, ``count`` of them (16 in both modes): what :func:`compress_text` compresses."""
    return [text.encode() for text in document_items(count or 16,
                                                     n_words or config.scaled(40_000, 30_000))]


def document_items(count: int | None = None, n_words: int | None = None) -> list[str]:
    """Texts of ``n_words`` words (20 000, about 130 KB; 10 000 in quick mode), ``count``
    of them (40, 24 in quick mode): what :func:`word_counts` counts."""
    rng = random.Random(1)
    words = _vocabulary(rng)
    return [_text(rng, words, n_words or config.scaled(20_000, 10_000))
            for _ in range(count or config.scaled(40, 24))]


def json_items(count: int | None = None, records: int | None = None) -> list[str]:
    """JSON documents of ``records`` records each (1 000, about 135 KB), ``count`` of them
    (32, 24 in quick mode): what :func:`parse_json` parses. Many documents rather than big
    ones: the advisor profiles at most a quarter of the items, and a sample of four parses
    is decided by whether one of the garbage collector's full passes falls inside it."""
    rng = random.Random(2)
    words = _vocabulary(rng)
    size = records or 1000
    return [json.dumps([{"id": i, "name": rng.choice(words), "score": rng.random(),
                         "tags": rng.sample(words, 3), "active": rng.random() < 0.5,
                         "address": {"city": rng.choice(words), "zip": rng.randint(0, 99999)}}
                        for i in range(size)]) for _ in range(count or config.scaled(32, 24))]


def pair_items(count: int | None = None, length: int | None = None) -> list[tuple[str, str]]:
    """Pairs of random strings of ``length`` letters (200 in both modes), ``count`` of them
    (20, 16 in quick mode): what :func:`edit_distance` compares."""
    rng = random.Random(3)
    n = length or 200
    return [("".join(rng.choices("acgt", k=n)), "".join(rng.choices("acgt", k=n)))
            for _ in range(count or config.scaled(20, 16))]


#: The advisor's held-out validation set: the functions above, which the model was not
#: adjusted to; validated without mpire and Dask, against the loop, a
#: thread pool, joblib and the Pool sweep.
REAL_WORKLOADS: dict[str, advisor.Workload] = {w.name: w for w in (
    advisor.Workload("sha256", sha256_hex, hash_items, "hashing (releases the GIL)"),
    advisor.Workload("zlib", compress_text, compress_items, "compression (releases the GIL)"),
    advisor.Workload("json", parse_json, json_items, "JSON parsing, big results"),
    advisor.Workload("words", word_counts, document_items, "regex word count, dict results"),
    advisor.Workload("edit-distance", edit_distance, pair_items, "pure Python"),
)}

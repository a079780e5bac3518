"""pstore: an inverted index with BM25 ranking.

The caller gives each document as a counter of terms (or as text, through `tokenize`);
`search` ranks documents by Okapi BM25 over the stored counts:

| key (under prefix `S`) | value                                                           |
|------------------------|-----------------------------------------------------------------|
| `S, "p", term, docid`  | `P((tf, doclen))`: a posting, doclen copied so scoring reads no more |
| `S, "d", docid, i`     | piece i (≤ 90,000 B) of `P((doclen, ((term, tf), …)))`: forward index |
| `S, "N"`               | documents indexed, int64 little-endian                          |
| `S, "L"`               | sum of all doclen, int64 little-endian                          |

The design choice: one key per (term, document) and nothing more per term. `search`
reads each query term's posting list whole, so a term's document frequency df is the
length of the list it reads — exact, with no counter to keep — while the corpus
statistics `N` and `L` change only by atomic adds and are read with snapshot reads, so
concurrent indexers never conflict on them. The forward index makes re-indexing exact:
`index` reads the document's old terms and clears their postings before writing new ones.

Relevance (Okapi BM25, k1 = 1.2, b = 0.75, the Lucene / SQLite FTS5 defaults), for query
terms t (duplicates count once), document d of length dl, avgdl = L / N:

    idf(t)   = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))          (never negative)
    score(d) = Σ_t idf(t) · tf(t, d) · (k1 + 1) / (tf(t, d) + k1 · (1 - b + b · dl / avgdl))

Results are sorted by score, highest first, ties by docid in tuple order. SQLite's
`bm25()` returns the same number negated.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import re
import struct
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import found
from found.errors import InvalidType, LayerError
from found.ext._prefix import prefix_bytes

__all__ = [
    "K1",
    "B",
    "PStore",
    "PStoreException",
    "delete",
    "document_frequency",
    "index",
    "index_many",
    "index_text",
    "make",
    "search",
    "statistics",
    "tokenize",
]

K1 = 1.2
B = 0.75
MAX_KEY_SIZE = 10_000
MAX_TERM_BYTES = 64

_ONE = struct.pack("<q", 1)
_MINUS_ONE = struct.pack("<q", -1)
_WORD = re.compile(r"\w+")


class PStoreException(LayerError):
    """Bad input to a pstore call (unpackable docid, non-positive count, no keywords…)."""


@dataclass(frozen=True)
class PStore:
    """Handle of an inverted index; `pool`, if given, runs `index_text`'s tokenizer."""

    name: str
    prefix: bytes
    pool: Executor | None = None
    # the prefixes of postings and forward entries, and the statistics' keys, made once
    postings: bytes = field(init=False, repr=False, compare=False)
    forward: bytes = field(init=False, repr=False, compare=False)
    count_key: bytes = field(init=False, repr=False, compare=False)
    total_key: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, item in (
            ("postings", "p"),
            ("forward", "d"),
            ("count_key", "N"),
            ("total_key", "L"),
        ):
            object.__setattr__(self, name, found.pack((item,), self.prefix))


def make(name: str, prefix: Any, pool: Executor | None = None) -> PStore:
    """Return the handle of an inverted index under `prefix` (tuple, bytes or Subspace)."""
    raw = prefix_bytes(prefix, PStoreException)
    if pool is not None and not isinstance(pool, Executor):
        raise InvalidType(f"pool must be a concurrent.futures.Executor, got {pool!r}")
    return PStore(name, raw, pool)


def tokenize(text: str) -> list[str]:
    """Split text into terms: NFKC-normalize, casefold, take `\\w+` runs, drop terms over
    64 UTF-8 bytes."""
    if not isinstance(text, str):
        raise InvalidType(f"text must be a str, got {type(text).__name__}")
    normal = unicodedata.normalize("NFKC", text).casefold()
    return [term for term in _WORD.findall(normal) if len(term.encode("utf-8")) <= MAX_TERM_BYTES]


# --- keys ------------------------------------------------------------------------------


def _int(value: bytes | None) -> int:
    return 0 if value is None else struct.unpack("<q", value)[0]


def _pack_docid(docid: Any) -> bytes:
    try:
        packed = found.pack((docid,))
    except (TypeError, ValueError) as error:
        raise PStoreException(f"docid {docid!r} cannot be packed: {error}") from None
    return packed


def _posting_keys(store: PStore, packed_docid: bytes, counter: Any) -> list[tuple[bytes, int]]:
    """Validate a term counter; return (posting key, count) for each of its terms."""
    if not isinstance(counter, Mapping):
        raise InvalidType(f"counter must be a mapping of term → count, got {counter!r}")
    pack, postings = found.pack, store.postings
    keys = []
    for term, count in counter.items():
        if type(term) is not str or not term or type(count) is not int or count <= 0:
            _check_term(term, count)
        key = pack((term,), postings) + packed_docid
        # the size as the prefix, a 4-byte allowance for ("p",), the term and the docid
        size = len(key) + 1
        if size > MAX_KEY_SIZE:
            raise PStoreException(
                f"term {term[:40]!r}… makes a key of {size} bytes, the limit is {MAX_KEY_SIZE}"
            )
        keys.append((key, count))
    return keys


def _check_term(term: Any, count: Any) -> None:
    """Raise the error a bad (term, count) pair deserves; str and int subclasses pass."""
    if not isinstance(term, str):
        raise InvalidType(f"terms are str, got {term!r}")
    if not term:
        raise PStoreException("the empty string is not a term")
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidType(f"the count of {term!r} must be an int, got {count!r}")
    if count <= 0:
        raise PStoreException(f"the count of {term!r} must be positive, got {count}")


# --- indexing --------------------------------------------------------------------------


FORWARD_PIECE = 90_000


async def _unindex(tx: Any, store: PStore, packed_docid: bytes) -> int | None:
    """Clear a document's postings and forward index; return its old length, or None if
    it was not indexed. The statistics are left to the caller."""
    forward = store.forward + packed_docid
    end = found.next_prefix(forward)
    pieces = await found.all(found.query(tx, forward, end))
    if not pieces:
        return None
    length, pairs = found.unpack(b"".join([value for _, value in pieces]))
    pack, clear, postings = found.pack, found.clear, store.postings
    for term, _count in pairs:
        clear(tx, pack((term,), postings) + packed_docid)
    clear(tx, forward, end)
    return length


async def index(tx: Any, store: PStore, docid: Any, counter: Mapping[str, int]) -> None:
    """Index document `docid` with `counter` (term → occurrences), replacing its old terms."""
    packed_docid = _pack_docid(docid)
    postings = _posting_keys(store, packed_docid, counter)
    old_length = await _unindex(tx, store, packed_docid)
    length = sum(counter.values())
    pack = found.pack
    values: dict[int, bytes] = {}  # P((tf, doclen)) by tf: most terms occur once
    for _, count in postings:
        if count not in values:
            values[count] = pack((count, length))
    found.set_many(tx, [key for key, _ in postings], [values[count] for _, count in postings])
    forward = pack((length, tuple(counter.items())))
    forward_prefix = store.forward + packed_docid
    for number, start in enumerate(range(0, len(forward), FORWARD_PIECE)):
        found.set(tx, pack((number,), forward_prefix), forward[start : start + FORWARD_PIECE])
    if old_length is None:
        found.add(tx, store.count_key, _ONE)
    found.add(tx, store.total_key, struct.pack("<q", length - (old_length or 0)))


async def index_many(
    tx: Any, store: PStore, documents: Iterable[tuple[Any, Mapping[str, int]]]
) -> None:
    """Index each (docid, counter) of `documents`: the same result as one `index` call
    per pair, in order (a docid given twice keeps its last counter).

    Every pair is checked before anything is written. The postings of all documents are
    written in key order, which the embedded engine commits about 1.7× faster than the
    order of successive `index` calls, and the statistics take two atomic adds in all.
    """
    if isinstance(documents, (str, bytes)) or not isinstance(documents, Iterable):
        raise InvalidType(f"documents must be an iterable of (docid, counter), got {documents!r}")
    batch: dict[bytes, tuple[Mapping[str, int], list[tuple[bytes, int]]]] = {}
    for document in documents:
        if not isinstance(document, (tuple, list)) or len(document) != 2:
            raise InvalidType(f"documents are (docid, counter) pairs, got {document!r}")
        docid, counter = document
        packed_docid = _pack_docid(docid)
        batch.pop(packed_docid, None)  # the last counter wins, at its own place
        batch[packed_docid] = (counter, _posting_keys(store, packed_docid, counter))
    if not batch:
        return
    pack = found.pack
    rows: list[tuple[bytes, bytes]] = []
    added = delta = 0
    for packed_docid, (counter, postings) in batch.items():
        old_length = await _unindex(tx, store, packed_docid)
        length = sum(counter.values())
        values: dict[int, bytes] = {}
        for key, count in postings:
            value = values.get(count)
            if value is None:
                value = values[count] = pack((count, length))
            rows.append((key, value))
        forward = pack((length, tuple(counter.items())))
        forward_prefix = store.forward + packed_docid
        for number, start in enumerate(range(0, len(forward), FORWARD_PIECE)):
            rows.append((pack((number,), forward_prefix), forward[start : start + FORWARD_PIECE]))
        if old_length is None:
            added += 1
        delta += length - (old_length or 0)
    rows.sort()  # keys are distinct, so only keys are compared
    found.set_many(tx, [key for key, _ in rows], [value for _, value in rows])
    if added:
        found.add(tx, store.count_key, struct.pack("<q", added))
    found.add(tx, store.total_key, struct.pack("<q", delta))


async def index_text(tx: Any, store: PStore, docid: Any, text: str) -> None:
    """Tokenize `text` (in `store.pool` if set) and index it as document `docid`."""
    if store.pool is None:
        terms = tokenize(text)
    else:
        terms = await asyncio.get_running_loop().run_in_executor(store.pool, tokenize, text)
    await index(tx, store, docid, Counter(terms))


async def delete(tx: Any, store: PStore, docid: Any) -> bool:
    """Remove document `docid` from the index; return False if it was not indexed."""
    old_length = await _unindex(tx, store, _pack_docid(docid))
    if old_length is None:
        return False
    found.add(tx, store.count_key, _MINUS_ONE)
    found.add(tx, store.total_key, struct.pack("<q", -old_length))
    return True


# --- search ----------------------------------------------------------------------------


async def statistics(tx: Any, store: PStore) -> tuple[int, int]:
    """Return (N, L): documents indexed and their total length (snapshot reads)."""
    count, total = await asyncio.gather(
        found.get(tx.snapshot, store.count_key), found.get(tx.snapshot, store.total_key)
    )
    return _int(count), _int(total)


async def document_frequency(tx: Any, store: PStore, term: str) -> int:
    """Return how many documents contain `term` (the length of its posting list)."""
    if not isinstance(term, str):
        raise InvalidType(f"terms are str, got {term!r}")
    begin = found.pack((term,), store.postings)
    return len(await found.all(found.query(tx.snapshot, begin, found.next_prefix(begin))))


async def _postings(tx: Any, store: PStore, term: str) -> tuple[list[tuple[bytes, bytes]], int]:
    """The posting rows of `term`, and the length of their keys' part before the docid."""
    begin = found.pack((term,), store.postings)
    return await found.all(found.query(tx, begin, found.next_prefix(begin))), len(begin)


class _Contributions(dict):
    """A term's BM25 contribution for each posting value P((tf, doclen)), computed on
    first use: a posting list holds a few hundred distinct values at most."""

    __slots__ = ("weight", "base", "slope")

    def __init__(self, weight: float, base: float, slope: float) -> None:
        self.weight, self.base, self.slope = weight, base, slope

    def __missing__(self, value: bytes) -> float:
        tf, length = found.unpack(value)
        contribution = self[value] = self.weight * tf / (tf + self.base + self.slope * length)
        return contribution


async def search(
    tx: Any,
    store: PStore,
    keywords: Iterable[str],
    limit: int = 10,
    *,
    mode: str = "any",
) -> list[tuple[Any, float]]:
    """Return up to `limit` (docid, score) pairs, best first, ranked by BM25.

    `mode="any"` ranks documents holding at least one keyword; `mode="all"` only those
    holding every keyword. Keywords are terms as indexed (see `tokenize`).
    """
    if isinstance(keywords, str) or not isinstance(keywords, Iterable):
        raise InvalidType(f"keywords must be a list of str, got {keywords!r}")
    terms = list(dict.fromkeys(keywords))
    if not terms:
        raise PStoreException("search needs at least one keyword")
    for term in terms:
        if not isinstance(term, str):
            raise InvalidType(f"keywords are str, got {term!r}")
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidType(f"limit must be an int, got {type(limit).__name__}")
    if limit < 1:
        raise PStoreException(f"limit must be at least 1, got {limit}")
    if mode not in ("any", "all"):
        raise PStoreException(f"mode must be 'any' or 'all', got {mode!r}")

    (count, total), postings = await asyncio.gather(
        statistics(tx, store),
        asyncio.gather(*(_postings(tx, store, term) for term in terms)),
    )
    if count <= 0:
        return []
    average_length = total / count if total > 0 else 1.0
    unpack = found.unpack
    scores: dict[bytes, float] = {}
    get = scores.get
    # tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl)) with the constants hoisted
    base, slope = K1 * (1.0 - B), K1 * B / average_length
    for rows, docid_at in postings:
        frequency = len(rows)
        weight = math.log(1.0 + (count - frequency + 0.5) / (frequency + 0.5)) * (K1 + 1)
        contributions = _Contributions(weight, base, slope)
        if not scores:
            scores = {key[docid_at:]: contributions[value] for key, value in rows}
            get = scores.get
            continue
        for key, value in rows:
            docid = key[docid_at:]
            scores[docid] = get(docid, 0.0) + contributions[value]
    if mode == "all" and len(postings) > 1:
        everywhere = set.intersection(
            *({key[docid_at:] for key, _ in rows} for rows, docid_at in postings)
        )
        scores = {docid: scores[docid] for docid in everywhere}
    if len(scores) > limit:
        # the limit-th best score, then everything at least as good (ties included)
        threshold = heapq.nlargest(limit, scores.values())[-1]
        candidates = [item for item in scores.items() if item[1] >= threshold]
    else:
        candidates = list(scores.items())
    candidates.sort(key=lambda item: (-item[1], item[0]))
    best = candidates[:limit]
    return [(unpack(packed_docid)[0], score) for packed_docid, score in best]

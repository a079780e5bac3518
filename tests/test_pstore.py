"""pstore: BM25 against hand computation, exact re-indexing, bad input, a model test."""

from __future__ import annotations

import math
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import everything, run

from found.errors import FoundException, InvalidType
from found.ext import pstore
from found.ext.pstore import PStoreException


@pytest.fixture
def store():
    return pstore.make("docs", ("test", "search"))


async def index_all(db, store, documents: dict):
    async def do(tx):
        for docid, text in documents.items():
            await pstore.index(tx, store, docid, Counter(pstore.tokenize(text)))

    await run(db, do)


async def search(db, store, keywords, limit=10, **kwargs):
    async def do(tx):
        return await pstore.search(tx, store, keywords, limit, **kwargs)

    return await run(db, do)


async def statistics(db, store, terms):
    async def do(tx):
        count, total = await pstore.statistics(tx, store)
        return count, total, {t: await pstore.document_frequency(tx, store, t) for t in terms}

    return await run(db, do)


def bm25(documents: dict[object, Counter], keywords: list[str]) -> dict[object, float]:
    """The documented formula, written out independently of the implementation."""
    n = len(documents)
    average = sum(sum(c.values()) for c in documents.values()) / n
    scores = {}
    for docid, counts in documents.items():
        length = sum(counts.values())
        score = 0.0
        matched = False
        for term in dict.fromkeys(keywords):
            tf = counts.get(term, 0)
            if not tf:
                continue
            matched = True
            df = sum(1 for c in documents.values() if term in c)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            score += idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * length / average))
        if matched:
            scores[docid] = score
    return scores


CORPUS = {
    1: "the quick brown fox",
    2: "the lazy dog sleeps all day the dog",
    3: "a quick dog and a quick fox",
    4: "foxes are not dogs",
}


async def test_bm25_scores_equal_a_hand_computation(db, store):
    await index_all(db, store, CORPUS)
    # by hand for "fox": N=4, df=2, avgdl=(4+8+7+4)/4=5.75, idf=ln(1+2.5/2.5)=ln 2
    idf = math.log(2)
    doc1 = idf * 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 4 / 5.75))
    doc3 = idf * 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 7 / 5.75))
    result = await search(db, store, ["fox"])
    assert [docid for docid, _ in result] == [1, 3]
    assert result[0][1] == pytest.approx(doc1, rel=1e-12)
    assert result[1][1] == pytest.approx(doc3, rel=1e-12)
    counted = {docid: Counter(pstore.tokenize(text)) for docid, text in CORPUS.items()}
    for keywords in (["quick", "dog"], ["the", "dog", "dog"], ["foxes", "missing"]):
        expected = bm25(counted, keywords)
        got = dict(await search(db, store, keywords))
        assert got.keys() == expected.keys()
        for docid, score in expected.items():
            assert got[docid] == pytest.approx(score, rel=1e-12)


async def test_ties_are_broken_by_docid_and_results_are_deterministic(db, store):
    await index_all(db, store, {"b": "same words", "a": "same words", "c": "same words"})
    first = await search(db, store, ["same"])
    assert [docid for docid, _ in first] == ["a", "b", "c"]
    assert await search(db, store, ["same"]) == first
    assert await search(db, store, ["same"], limit=2) == first[:2]


async def test_all_mode_requires_every_keyword(db, store):
    await index_all(db, store, CORPUS)
    assert [d for d, _ in await search(db, store, ["quick", "fox"], mode="all")] == [1, 3]
    assert await search(db, store, ["quick", "missing"], mode="all") == []
    assert [d for d, _ in await search(db, store, ["quick", "missing"])] == [3, 1]


async def test_reindexing_replaces_terms_and_restores_statistics_exactly(db, store):
    await index_all(db, store, CORPUS)
    before = await statistics(db, store, ["fox", "cat", "quick", "the"])
    await index_all(db, store, {1: "a cat named quick cat"})
    assert [d for d, _ in await search(db, store, ["fox"])] == [3]
    assert [d for d, _ in await search(db, store, ["cat"])] == [1]
    count, total, frequencies = await statistics(db, store, ["fox", "cat", "quick", "the"])
    assert (count, total) == (4, 23 - 4 + 5)
    assert frequencies == {"fox": 1, "cat": 1, "quick": 2, "the": 1}
    await index_all(db, store, {1: CORPUS[1]})
    assert await statistics(db, store, ["fox", "cat", "quick", "the"]) == before


async def test_delete_removes_a_document_and_its_statistics(db, store):
    await index_all(db, store, CORPUS)

    async def delete(tx, docid):
        return await pstore.delete(tx, store, docid)

    assert await run(db, delete, 3) is True
    assert await run(db, delete, 3) is False
    assert [d for d, _ in await search(db, store, ["quick"])] == [1]
    assert await statistics(db, store, ["quick", "fox"]) == (3, 16, {"quick": 1, "fox": 1})
    for docid in (1, 2, 4):
        await run(db, delete, docid)
    assert await search(db, store, ["quick"]) == []
    # only zero-valued counters remain: no posting, forward or document key
    for key, value in await everything(db):
        assert int.from_bytes(value, "little", signed=True) == 0, key


def test_tokenize_normalizes_and_splits():
    assert pstore.tokenize("Hello, WORLD! straße Ｆｏｏ") == ["hello", "world", "strasse", "foo"]
    assert pstore.tokenize("e\u0301t\u00e9") == ["\u00e9t\u00e9"]
    assert pstore.tokenize("ok " + "x" * 65 + " fine") == ["ok", "fine"]
    with pytest.raises(InvalidType):
        pstore.tokenize(b"bytes")


async def test_index_text_tokenizes_in_the_pool(db):
    with ThreadPoolExecutor(1) as pool:
        store = pstore.make("pooled", ("pooled",), pool=pool)

        async def do(tx):
            await pstore.index_text(tx, store, "doc", "Pooled TEXT text")

        await run(db, do)
    assert [d for d, _ in await search(db, store, ["text"])] == ["doc"]


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda tx, s: pstore.index(tx, s, "d", {"a": 0}), PStoreException, "positive"),
        (lambda tx, s: pstore.index(tx, s, "d", {"a": 1.5}), InvalidType, "int"),
        (lambda tx, s: pstore.index(tx, s, "d", {"a": True}), InvalidType, "int"),
        (lambda tx, s: pstore.index(tx, s, "d", {b"a": 1}), InvalidType, "str"),
        (lambda tx, s: pstore.index(tx, s, "d", {"": 1}), PStoreException, "empty"),
        (lambda tx, s: pstore.index(tx, s, "d", ["a"]), InvalidType, "mapping"),
        (lambda tx, s: pstore.index(tx, s, object(), {"a": 1}), PStoreException, "packed"),
        (lambda tx, s: pstore.index(tx, s, "d", {"x" * 10_000: 1}), PStoreException, "10000"),
        (
            lambda tx, s: pstore.index(tx, s, "indexed", {"ok": 1, "bad": -1}),
            PStoreException,
            "'bad'",
        ),
        (lambda tx, s: pstore.search(tx, s, []), PStoreException, "at least one"),
        (lambda tx, s: pstore.search(tx, s, "word"), InvalidType, "list"),
        (lambda tx, s: pstore.search(tx, s, ["a", 1]), InvalidType, "str"),
        (lambda tx, s: pstore.search(tx, s, ["a"], 0), PStoreException, "limit"),
        (lambda tx, s: pstore.search(tx, s, ["a"], mode="some"), PStoreException, "mode"),
    ],
)
async def test_bad_input_raises_a_typed_error_and_writes_nothing(db, store, call, error, words):
    await index_all(db, store, {"indexed": "some text"})
    before = await everything(db)

    async def attempt(tx):
        with pytest.raises(error, match=words) as raised:
            await call(tx, store)
        assert isinstance(raised.value, FoundException)

    await run(db, attempt)
    assert await everything(db) == before


async def test_index_many_stores_what_one_index_per_document_stores(db):
    """Random batches — new documents, re-indexed ones, a docid twice in one batch —
    through index_many into one store and through index into another: same keys, same
    values, same statistics."""
    rng = random.Random(11)
    vocabulary = [f"w{i}" for i in range(40)]
    one_by_one = pstore.make("docs", ("one",))
    at_once = pstore.make("docs", ("many",))
    for _ in range(8):
        batch = [
            (rng.choice([rng.randrange(50), f"d{rng.randrange(10)}"]),
             Counter(rng.choices(vocabulary, k=rng.randrange(1, 30))))
            for _ in range(rng.randrange(0, 40))
        ]  # fmt: skip

        async def write(tx, batch=batch):
            for docid, counter in batch:
                await pstore.index(tx, one_by_one, docid, counter)
            await pstore.index_many(tx, at_once, batch)

        await run(db, write)
    rows = await everything(db)

    def under(store):
        return [(k[len(store.prefix) :], v) for k, v in rows if k.startswith(store.prefix)]

    assert under(one_by_one) == under(at_once) != []


@pytest.mark.parametrize(
    ("documents", "error", "words"),
    [
        ([("new", {"a": 1}), ("d", {"a": 0})], PStoreException, "positive"),
        ([("new", {"a": 1}), (object(), {"a": 1})], PStoreException, "packed"),
        ([("new", {"a": 1}), ("d", ["a"])], InvalidType, "mapping"),
        ([("new", {"a": 1}), ("d",)], InvalidType, "pairs"),
        ("text", InvalidType, "iterable"),
    ],
)
async def test_index_many_checks_every_document_before_writing(db, store, documents, error, words):
    await index_all(db, store, {"indexed": "some text"})
    before = await everything(db)

    async def attempt(tx):
        with pytest.raises(error, match=words):
            await pstore.index_many(tx, store, documents)

    await run(db, attempt)
    assert await everything(db) == before


async def test_randomized_against_a_python_model(db, store):
    """Random indexing, re-indexing and deletes; every search must return the model's
    BM25 ranking (scores to 1e-9, same order, ties by docid)."""
    rng = random.Random(5)
    vocabulary = [f"w{i}" for i in range(15)]
    model: dict[int, Counter] = {}
    for step in range(250):
        docid = rng.randrange(30)
        if rng.random() < 0.8:
            counts = Counter(rng.choices(vocabulary, k=rng.randrange(1, 12)))

            async def do(tx, docid=docid, counts=counts):
                await pstore.index(tx, store, docid, counts)

            await run(db, do)
            model[docid] = counts
        else:

            async def do(tx, docid=docid):
                return await pstore.delete(tx, store, docid)

            assert await run(db, do) == (docid in model)
            model.pop(docid, None)
        if step % 10 == 0 or step == 249:
            keywords = rng.sample(vocabulary, rng.randrange(1, 4))
            for mode in ("any", "all"):
                got = await search(db, store, keywords, 5, mode=mode)
                expected = bm25(model, keywords) if model else {}
                if mode == "all":
                    expected = {
                        d: s for d, s in expected.items() if all(k in model[d] for k in keywords)
                    }
                ranked = sorted(expected.items(), key=lambda item: (-item[1], item[0]))[:5]
                assert [d for d, _ in got] == [d for d, _ in ranked]
                for (_, score), (_, want) in zip(got, ranked, strict=True):
                    assert score == pytest.approx(want, rel=1e-9)
            count, total, frequencies = await statistics(db, store, vocabulary)
            assert count == len(model)
            assert total == sum(sum(c.values()) for c in model.values())
            assert frequencies == {w: sum(1 for c in model.values() if w in c) for w in vocabulary}
            assert all(key.startswith(store.prefix) for key, _ in await everything(db))

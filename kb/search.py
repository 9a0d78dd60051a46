"""Knowledge-base ranking: BM25 over jieba words and character bigrams, in memory.

Chinese questions are short and colloquial and a one-character slip breaks a jieba word, so
every text is indexed twice: as jieba words and as overlapping character bigrams. The words
come from the `Words` function the caller passes in (in production jieba with the government
vocabulary, kb.index.jieba_words), so that this module needs no jieba of its own.
BM25 (k1 = 1.2, b = 0.75) weights are precomputed into one sparse matrix (articles × terms);
a query is a column sum over its terms, and the top k come from argpartition — about a
millisecond for ten thousand articles. The title counts `TITLE_WEIGHT` times.

A synonym table (孩子 · 子女 · 小孩) widens a query: each group word found in the question
brings the terms of the other words of its group.

Measured on the shared-data protocol (bench/knowledge.py): see docs/kb.md.
"""

import re
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

TITLE_WEIGHT = 2
BODY_CHARS = 2000  # long articles: their opening carries the matter
K1, B = 1.2, 0.75
_RUN = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]+")

# Cuts a text into words, in order; the index and its queries must use the same one.
Words = Callable[[str], list[str]]


@dataclass(frozen=True, slots=True)
class Article:
    id: int
    title: str
    body: str
    # the article's search terms when already computed (kept in the database by the index
    # job); None: compute them from title and body
    terms: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    id: int
    score: float
    words: tuple[str, ...]  # the query's words the article holds (for highlighting)


def bigrams(text: str) -> list[str]:
    """Overlapping character pairs of each run of Chinese, letters and digits."""
    out: list[str] = []
    for run in _RUN.findall(text):
        out += [run[i : i + 2] for i in range(len(run) - 1)] or [run]
    return out


def terms(text: str, words: Words) -> list[str]:
    """What a text is indexed and searched by: its jieba words and its bigrams (marked)."""
    return [f"w:{w}" for w in words(text)] + [f"b:{g}" for g in bigrams(text)]


def document_terms(title: str, body: str, words: Words) -> list[str]:
    """The terms an article is indexed by: the title's (weighted) and the body's opening."""
    return terms(title, words) * TITLE_WEIGHT + terms(body[:BODY_CHARS], words)


class Synonyms:
    """Groups of words a caller and an article may use for the same thing."""

    def __init__(self, groups: Iterable[Iterable[str]] = ()) -> None:
        self._others: dict[str, list[str]] = {}
        for group in groups:
            words = [w for w in dict.fromkeys(w.strip() for w in group) if w]
            for w in words:
                self._others.setdefault(w, []).extend(x for x in words if x != w)
        # longest first, so that 住房公积金 is seen before 公积金
        self._words = sorted(self._others, key=len, reverse=True)

    def __len__(self) -> int:
        return len(self._words)

    def expand(self, query: str) -> list[str]:
        """The other words of each group whose word appears in the query, each once."""
        out: list[str] = []
        for word in self._words:
            if word in query:
                out += [w for w in self._others[word] if w not in query]
        return list(dict.fromkeys(out))


def _count(articles: list[Article], vocab: dict[str, int], words: Words) -> sparse.csr_matrix:
    """Term counts of the articles as rows; new terms are added to `vocab`."""
    indptr: list[int] = [0]
    indices: list[int] = []
    data: list[int] = []
    for a in articles:
        found = Counter(
            vocab.setdefault(t, len(vocab))
            for t in (a.terms if a.terms is not None else document_terms(a.title, a.body, words))
        )
        indices += found.keys()
        data += found.values()
        indptr.append(len(indices))
    return sparse.csr_matrix(
        (np.array(data, dtype=np.float32), np.array(indices, dtype=np.int64), indptr),
        shape=(len(articles), len(vocab)),
    )


def _bm25(counts: sparse.csr_matrix) -> sparse.csc_matrix:
    """BM25 weights of each term in each article (columns are read at query time)."""
    n = counts.shape[0]
    if n == 0:
        return sparse.csc_matrix(counts.shape, dtype=np.float32)
    coo = counts.tocoo()
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    df = np.bincount(coo.col, minlength=counts.shape[1])
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
    tf = coo.data
    norm = K1 * (1 - B + B * lengths[coo.row] / max(lengths.mean(), 1.0))
    weights = tf * (K1 + 1) / (tf + norm) * idf[coo.col]
    return sparse.csc_matrix((weights, (coo.row, coo.col)), shape=counts.shape)


class SearchIndex:
    """An immutable BM25 index of articles; `updated` makes a new one with some changed.

    It keeps the raw term counts (articles × terms) beside the BM25 weights, so that an
    update counts only the changed articles' terms and recomputes the weights in bulk.
    """

    def __init__(self, articles: Iterable[Article], words: Words) -> None:
        self.articles = list(articles)
        self._words = words
        self._vocab: dict[str, int] = {}
        self._set_counts(_count(self.articles, self._vocab, words))

    def _set_counts(self, counts: sparse.csr_matrix) -> None:
        self.ids = np.array([a.id for a in self.articles], dtype=np.int64)
        self._counts = counts
        self._weights = _bm25(counts)

    def updated(self, changed: Iterable[Article], removed: Iterable[int] = ()) -> "SearchIndex":
        """A new index: `changed` articles added or replaced, `removed` ids taken out."""
        changed = list(changed)
        drop = set(removed) | {a.id for a in changed}
        keep = [i for i, a in enumerate(self.articles) if a.id not in drop]
        out = SearchIndex.__new__(SearchIndex)
        out.articles = [self.articles[i] for i in keep] + changed
        out._words = self._words
        out._vocab = dict(self._vocab)
        fresh = _count(changed, out._vocab, self._words)
        kept = self._counts[keep]
        kept.resize((len(keep), len(out._vocab)))
        out._set_counts(sparse.vstack([kept, fresh], format="csr"))
        return out

    def __len__(self) -> int:
        return len(self.articles)

    def search(self, query: str, k: int = 10, synonyms: Synonyms | None = None) -> list[Hit]:
        """The k best articles for a plain-Chinese question, best first (none for no match)."""
        extra = synonyms.expand(query) if synonyms else []
        wanted = terms(query, self._words) + [t for w in extra for t in terms(w, self._words)]
        query_terms = [t for t in dict.fromkeys(wanted) if t in self._vocab]
        if not query_terms or not self.articles:
            return []
        columns = [self._vocab[t] for t in query_terms]
        scores = np.asarray(self._weights[:, columns].sum(axis=1)).ravel()
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        # highlight every word of the question found in the article, indexed as such or not
        words = list(dict.fromkeys(self._words(query) + extra))
        hits = []
        for row in top:
            if scores[row] <= 0:
                break
            article = self.articles[row]
            text = article.title + article.body[:BODY_CHARS]
            hits.append(
                Hit(
                    id=int(self.ids[row]),
                    score=float(scores[row]),
                    words=tuple(w for w in words if w in text),
                )
            )
        return hits

"""TF-IDF vectors of texts, and the clusters of similar ones.

TF-IDF over a set of texts (scikit-learn, sublinear tf, L2 norm): the cosine of two texts is
the dot product of their rows. Texts at cosine ≥ `similarity` are linked, exactly but without
computing most of X·Xᵀ (`_pairs`), and each connected component of `min_cluster` texts or more
is a cluster (`cluster_rows` splits components chained too big), named by its words of
highest summed weight (`Space.keywords`).

Pure: numpy, scipy and scikit-learn over texts; no database, no web.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfTransformer

from reports.topics.words import Ints
from reports.topics.words import load_lexicon

TOPIC_KEYWORDS = 5
_PRODUCT_ROWS = 1_000  # rows of X·Xᵀ computed at a time
# A row's prefix norm stays below this (and the threshold): measured best on a week of
# 20,000 tickets at thresholds 0.5 and 0.75 (see `_pairs`).
_PREFIX_BUDGET = 0.4
_EPSILON = 1e-9  # a text and its copy score 0.9999999999999998
# One cluster holding this share of the period (and more than _GIANT_MIN tickets) has most
# likely been chained together through tickets that each resemble the next a little.
_GIANT_SHARE, _GIANT_MIN, _MAX_SPLITS = 0.3, 50, 3


@dataclass(frozen=True, slots=True, eq=False)
class Space:
    """TF-IDF vectors of a set of texts, and the means to read other texts the same way."""

    terms: tuple[str, ...]  # the columns, sorted
    word_ids: Ints  # the columns' word ids in the lexicon, sorted
    weights: Any  # the fitted TfidfTransformer
    matrix: Any  # CSR, one L2-normalised row per text

    @classmethod
    def fit(cls, texts: Sequence[str]) -> "Space":
        lexicon = load_lexicon()
        docs, found, whole = lexicon.scan(texts)
        # A word inside a longer one counts only if some ticket uses it as a word of its own:
        # 噪音 of 噪音扰民 does when another ticket says 噪音很大; 公积 of 公积金 never does.
        used = whole | np.isin(found, found[whole])
        docs, found = docs[used], found[used]
        word_ids, columns = np.unique(found, return_inverse=True)
        counts = _counts(docs, columns.astype(np.int64), len(texts), len(word_ids))
        weights = TfidfTransformer(sublinear_tf=True, norm="l2")
        matrix = weights.fit_transform(counts) if len(word_ids) else counts
        terms = tuple(str(word) for word in lexicon.words[word_ids])
        return cls(terms, word_ids.astype(np.int64), weights, sparse.csr_matrix(matrix))

    def read(self, texts: Sequence[str]) -> Any:
        """Return the TF-IDF vectors of other texts over these columns and weights."""
        if not texts or not self.terms:
            return sparse.csr_matrix((len(texts), len(self.terms)))
        docs, found, _ = load_lexicon().scan(texts)
        at = np.minimum(np.searchsorted(self.word_ids, found), len(self.word_ids) - 1)
        known = self.word_ids[at] == found
        counts = _counts(docs[known], at[known], len(texts), len(self.terms))
        return sparse.csr_matrix(self.weights.transform(counts))

    def keywords(self, rows: Sequence[int] | Ints, limit: int = TOPIC_KEYWORDS) -> tuple[str, ...]:
        """Return the words of the highest summed weight over these rows, heaviest first.

        A word inside an already chosen one, or holding one, is skipped (井盖 after 窨井盖).
        """
        summed = np.asarray(self.matrix[np.asarray(rows, np.int64)].sum(axis=0)).ravel()
        used = np.flatnonzero(summed > 0)
        longer = -np.fromiter((len(self.terms[c]) for c in used), np.int64, len(used))
        chosen: list[str] = []
        # Ties go to the longer word, then the one that sorts first (the columns are sorted).
        for column in used[np.lexsort((used, longer, -summed[used]))]:
            if len(chosen) == limit:
                break
            term = self.terms[column]
            if not any(term in c or c in term for c in chosen):
                chosen.append(term)
        return tuple(chosen)


def _counts(docs: Ints, columns: Ints, rows: int, width: int) -> Any:
    """Return the word counts as a CSR matrix (rows × width)."""
    ones = np.ones(len(docs), np.float64)
    return sparse.csr_matrix((ones, (docs, columns)), shape=(rows, width))


def top_columns(matrix: Any, limit: int) -> tuple[Ints, Ints]:
    """Return (row, column) of each row's `limit` heaviest entries (ties: the first column)."""
    matrix = sparse.csr_matrix(matrix, copy=True)
    matrix.sort_indices()
    sizes = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), sizes)
    filled = np.flatnonzero(sizes)
    data = matrix.data.astype(np.float64)
    found_rows: list[Ints] = []
    found_columns: list[Ints] = []
    for _ in range(limit if len(filled) else 0):
        peak = np.zeros(matrix.shape[0])
        peak[filled] = np.maximum.reduceat(data, matrix.indptr[filled])
        at = np.flatnonzero((data == peak[rows]) & (data > 0))
        # The first entry of a row at its peak: columns ascend within a row.
        at = at[np.concatenate(([True], rows[at][1:] != rows[at][:-1]))]
        found_rows.append(rows[at])
        found_columns.append(matrix.indices[at].astype(np.int64))
        data[at] = 0.0
    if not found_rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(found_rows), np.concatenate(found_columns)


def _distinct(matrix: Any) -> tuple[Ints, Ints]:
    """Return the first of each set of identical rows, and each row's set (0, 1, …)."""
    matrix = sparse.csr_matrix(matrix)
    matrix.sort_indices()
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    seen: dict[bytes, int] = {}
    firsts: list[int] = []
    groups = np.empty(matrix.shape[0], np.int64)
    for row in range(matrix.shape[0]):
        a, b = indptr[row], indptr[row + 1]
        group = seen.setdefault(indices[a:b].tobytes() + data[a:b].tobytes(), len(seen))
        if group == len(firsts):
            firsts.append(row)
        groups[row] = group
    return np.array(firsts, np.int64), groups


@dataclass(frozen=True, slots=True, eq=False)
class _Split:
    """Unit vectors split into a prefix of common words and a suffix of rarer ones.

    The columns are ranked most frequent first; a row's prefix is its longest run of words
    in that order whose norm stays below a budget, its boundary the rank of its first
    suffix word.
    """

    suffix: Any  # CSR
    norm: npt.NDArray[np.float64]  # of each row's prefix
    boundary: Ints
    # Every entry as row * width + rank, ascending, and the row's squared norm up to it.
    ranked: Ints
    running: npt.NDArray[np.float64]

    @classmethod
    def of(cls, matrix: Any, budget: float) -> "_Split":
        n, width = matrix.shape
        frequency = np.bincount(matrix.indices, minlength=width)
        rank = np.empty(width, np.int64)
        rank[np.lexsort((np.arange(width), -frequency))] = np.arange(width)
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(matrix.indptr))
        order = np.lexsort((rank[matrix.indices], rows))
        rows, columns, data = rows[order], matrix.indices[order], matrix.data[order]
        squares = np.cumsum(data * data)
        before_row = np.concatenate(([0.0], squares))[matrix.indptr[:-1]]
        running = squares - before_row[rows]
        # A row's running norm grows along its words: the prefix is where it is still short.
        front = running < budget * budget
        norm = np.zeros(n)
        np.maximum.at(norm, rows[front], running[front])
        boundary = np.full(n, width, np.int64)
        np.minimum.at(boundary, rows[~front], rank[columns[~front]])
        back = ~front
        suffix = sparse.csr_matrix((data[back], (rows[back], columns[back])), shape=(n, width))
        return cls(suffix, np.sqrt(norm), boundary, rows * width + rank[columns], running)

    def norm_before(self, rows: Ints, ranks: Ints) -> npt.NDArray[np.float64]:
        """Return the norm of each row's words ranked before the given rank."""
        width = self.suffix.shape[1]
        last = np.searchsorted(self.ranked, rows * width + ranks) - 1
        inside = (last >= 0) & (self.ranked[np.maximum(last, 0)] // width == rows)
        return np.sqrt(np.where(inside, self.running[np.maximum(last, 0)], 0.0))


def _pairs(matrix: Any, threshold: float) -> tuple[Ints, Ints]:
    """Return the pairs of rows at cosine ≥ threshold, or enough of them to join the same
    components: (first, second), first < second.

    All pairs sharing a word would be most pairs of a week (小区, 物业 …). Only the pairs
    sharing a word of both suffixes (see `_Split`) are candidates: with b the later of the
    two rows' boundaries, the words from b on are in both suffixes, and the words ranked
    before b are the prefix of the row with the later boundary, so they add at most its
    prefix norm times the other row's norm before b (Cauchy–Schwarz). The suffix words' part
    is thus the least a pair's cosine can be, and that part plus the bound the most; only
    pairs in between are computed in full (Bayardo et al., "Scaling up all pairs similarity
    search", 2007). A prefix budget below the threshold leaves fewer of those for a few more
    candidates.
    """
    matrix = sparse.csr_matrix(matrix)
    matrix.sort_indices()
    budget = min(threshold, _PREFIX_BUDGET)
    split = _Split.of(matrix, budget)
    columns = split.suffix.T.tocsc()  # its column slices are cheap
    floor = threshold - _EPSILON
    sure: list[tuple[Ints, Ints]] = []
    maybe: list[tuple[Ints, Ints]] = []
    # A slice of rows of the product at a time, filtered before the next is computed, and
    # only against the rows from the slice on: each pair once.
    for start in range(0, matrix.shape[0], _PRODUCT_ROWS):
        block = sparse.csr_matrix(split.suffix[start : start + _PRODUCT_ROWS] @ columns[:, start:])
        rows = np.repeat(
            np.arange(block.shape[0], dtype=block.indices.dtype), np.diff(block.indptr)
        )
        # No prefix norm reaches the budget: most candidates fall here, before any lookup.
        kept = np.flatnonzero((block.data >= floor - budget) & (block.indices > rows))
        first = rows[kept].astype(np.int64) + start
        second = block.indices[kept].astype(np.int64) + start
        least = block.data[kept]
        certain = least >= floor
        sure.append((first[certain], second[certain]))
        first, second, least = first[~certain], second[~certain], least[~certain]
        # The row with the later boundary owns the prefix part.
        later = split.boundary[first] >= split.boundary[second]
        owner = np.where(later, first, second)
        other = np.where(later, second, first)
        possible = least + split.norm[owner] >= floor
        owner, other, least = owner[possible], other[possible], least[possible]
        bound = split.norm[owner] * split.norm_before(other, split.boundary[owner])
        possible = least + bound >= floor
        maybe.append((owner[possible], other[possible]))
    empty = np.zeros(0, np.int64)
    sure_first = np.concatenate([pair[0] for pair in sure]) if sure else empty
    sure_second = np.concatenate([pair[1] for pair in sure]) if sure else empty
    maybe_first = np.concatenate([pair[0] for pair in maybe]) if maybe else empty
    maybe_second = np.concatenate([pair[1] for pair in maybe]) if maybe else empty
    # A pair already joined through sure links needs no computing.
    labels = _labels(matrix.shape[0], sure_first, sure_second)
    apart = labels[maybe_first] != labels[maybe_second]
    maybe_first, maybe_second = maybe_first[apart], maybe_second[apart]
    linked = _dots(matrix, maybe_first, maybe_second) >= floor
    return (
        np.concatenate((sure_first, maybe_first[linked])),
        np.concatenate((sure_second, maybe_second[linked])),
    )


def _dots(matrix: Any, left: Ints, right: Ints) -> npt.NDArray[np.float64]:
    """Return the dot products of the rows `left[k]` and `right[k]`."""
    if not len(left):
        return np.zeros(0)
    return np.asarray(matrix[left].multiply(matrix[right]).sum(axis=1)).ravel()


def _labels(n: int, first: Ints, second: Ints) -> Ints:
    graph = sparse.coo_matrix((np.ones(len(first), np.int8), (first, second)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, np.int64)


def _components(matrix: Any, rows: Ints, threshold: float) -> list[Ints]:
    """Return the connected components of the rows linked at cosine ≥ threshold."""
    first, second = _pairs(matrix[rows], threshold)
    labels = _labels(len(rows), first, second)
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.cumsum(np.bincount(labels))[:-1])
    return [rows[group] for group in groups]


def cluster_rows(matrix: Any, similarity: float, min_cluster: int) -> list[Ints]:
    """Return the clusters of `min_cluster` rows or more, biggest first, rows ascending.

    Identical rows (the same words the same number of times) are clustered once.

    Linking by a threshold chains: A resembles B, B resembles C, and a cluster can grow
    through many such steps into one "topic" holding unrelated tickets. A component holding
    more than 30 % of the rows and more than 50 of them is therefore clustered again at a
    threshold halfway between the last one and 1, up to three times; what it splits into is
    kept (rows then left alone fall out as noise), and what still holds together after the
    third split is a genuine wave of near-identical tickets.
    """
    matrix = sparse.csr_matrix(matrix)
    total = matrix.shape[0]
    firsts, groups = _distinct(matrix)
    distinct = sparse.csr_matrix(matrix[firsts])
    weight = np.bincount(groups, minlength=len(firsts))
    giant = max(_GIANT_MIN, _GIANT_SHARE * total)
    found: list[Ints] = []
    # A text without a single word resembles nothing, not even another one without words.
    worded = np.flatnonzero(np.diff(distinct.indptr)).astype(np.int64)
    pending = [(worded, similarity, 0)] if len(worded) else []
    while pending:
        rows, threshold, splits = pending.pop()
        for component in _components(distinct, rows, threshold):
            size = int(weight[component].sum())
            if size > giant and splits < _MAX_SPLITS:
                pending.append((component, threshold + (1 - threshold) / 2, splits + 1))
            elif size >= min_cluster:
                found.append(component)
    # Back from distinct rows to all rows.
    order = np.argsort(groups, kind="stable")
    starts = np.concatenate(([0], np.cumsum(weight)))
    clusters = [
        np.sort(np.concatenate([order[starts[g] : starts[g + 1]] for g in c])) for c in found
    ]
    clusters.sort(key=lambda c: (-len(c), int(c[0])))
    return clusters


def check_parameters(similarity: float, min_cluster: int) -> None:
    if not 0 < similarity <= 1:
        raise ValueError(f"similarity must be in (0, 1], not {similarity}")
    if min_cluster < 1:
        raise ValueError(f"min_cluster must be at least 1, not {min_cluster}")


def cluster_texts(
    texts: Sequence[str], *, similarity: float = 0.5, min_cluster: int = 3
) -> list[list[int]]:
    """Return the clusters of similar texts as lists of indices, biggest first.

    Texts are linked when the cosine of their TF-IDF vectors (fit on these texts) is at
    least `similarity`; a cluster is a connected component of `min_cluster` texts or more.
    Indices ascend within a cluster; clusters of one size come in order of their first index.
    """
    check_parameters(similarity, min_cluster)
    if not texts:
        return []
    space = Space.fit(texts)
    return [c.tolist() for c in cluster_rows(space.matrix, similarity, min_cluster)]


def cluster_keywords(
    texts: Sequence[str], clusters: Sequence[Sequence[int]], *, limit: int = TOPIC_KEYWORDS
) -> list[tuple[str, ...]]:
    """Return each cluster's keywords: its words of highest summed TF-IDF weight, up to `limit`.

    The weights are fit on all the texts, so words every cluster uses weigh little.
    """
    if not texts:
        return [() for _ in clusters]
    space = Space.fit(texts)
    return [space.keywords(list(c), limit) for c in clusters]

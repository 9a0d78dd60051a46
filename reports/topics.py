"""Hot topics for the weekly brief (热点问题、热点地区、上升问题).

Pure reads over `dispatch.models.Ticket`, merged duplicates left out. The method:

1. Words. A ticket's title and content, less its own address and the names of its district,
   street and community (where, not what: the hot spots say where), are cut into words of 2
   to 4 Chinese characters by forward maximum matching over jieba's dictionary and the
   hotline's government terms (dispatch.text); as in jieba's search mode, a longer word also
   yields the two-character words in it. Stop words (`STOP_WORDS`), numbers, Latin letters,
   digits, punctuation and single characters are dropped. Not `jieba.lcut`: it takes about
   0.55 ms for a 110-character ticket on the 2-core bench machine, 11 s for a week of
   20,000 tickets and 55 s with the four weeks before; the same dictionary matched with
   numpy over all the texts at once takes about 0.25 s a week (`_Lexicon`). Where two
   readings compete it takes the first (南城区 → 南城/区, where jieba says 南/城区); a topic
   is many tickets, and such slips neither make nor break one.
2. Topics. TF-IDF over the period's tickets (scikit-learn, sublinear tf, L2 norm): the
   cosine of two tickets is the dot product of their rows. Tickets at cosine ≥ `similarity`
   are linked, exactly but without computing most of X·Xᵀ (`_pairs`), and each connected
   component of `min_cluster` tickets or more is a topic (`_clusters` splits components
   chained too big), named by its words of highest summed weight.
3. Hot spots: the tickets of one topic at one place (community, else street, else the
   address); `min_cluster` of them make a hot spot.
4. Rising: a ticket's keywords are its 3 heaviest words. The previous weeks' tickets are read
   with the period's words and IDF (words new this period weigh nothing there), so that a
   keyword is counted the same way before and now.
"""

import datetime as dt
import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jieba
import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfTransformer
from sqlalchemy.orm import Session

from dispatch.domain import TicketStatus
from dispatch.models import Ticket
from dispatch.models import Unit
from dispatch.text import GOVERNMENT_TERMS
from dispatch.text import STOP_WORDS as ROUTING_STOP_WORDS

Ints = npt.NDArray[np.int64]

# A ticket's matter is stated early; the rest of a 50,000-character paste adds only cost.
MAX_CONTENT_CHARS = 2_000
TOPIC_KEYWORDS = 5
TICKET_KEYWORDS = 3
EXAMPLES = 5
# A keyword rises when this period counts at least this many times its weekly baseline.
RISING_RATIO = 2.0

# Hotline boilerplate: words every ticket may use whatever its matter. Generic function
# words come from the routing list (dispatch.text); single characters are dropped anyway.
STOP_WORDS: frozenset[str] = ROUTING_STOP_WORDS | frozenset(
    """
    市民 群众 来电 来电人 反映 表示 希望 要求 问题 相关部门 有关部门 处理 咨询 投诉 举报
    请求 解决 现在 目前 一直 已经 没有 情况 尽快 核实 核查 查处 调查 协调 督促 落实 联系
    告知 认为 称其 能够 是否 如何 怎么 怎样 什么 哪些 为何 为什么 需要 进行 导致 造成 影响
    严重 存在 发现 出现 其他 这种 那种 这里 那里 之后 以后 以前 之前 时候 每天 经常 多次
    非常 特别 比较 十分 一家 一名 一位 同时 并且 而且 然而 由于 对于 关于 如此 只能 不能
    不会 不要 无法 不到 不了 不是 得到 受到 给予 予以 办理 回复 答复 工作人员 工作 有人
    附近 所在 位于 家中 本人 该处 此事 此类 多人 很多 大量 一定 一起 可能 肯定 确实
    麻烦 帮助 帮忙 谢谢 感谢 您好 你好 工单 热线 诉求人 市长 政府 单位 人员 相关 有关
    了解 知道 请问 想问 是不是 有没有 怎么办 与其 其中 以及 还有 或者 曾经 这么 那么
    """.split()
)
# Characters of numbers and counts: a word made only of them (三百元, 两年, 一次) is a number.
_NUMBER_CHARS = "〇零一二三四五六七八九十百千万亿两几半多余数个元块角年月日天号次岁周时分秒点米里斤"

_MIN_WORD, _MAX_WORD = 2, 4
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"  # CJK unified ideographs and extension A
_HAN_WORD = re.compile(f"[{_HAN}]{{{_MIN_WORD},{_MAX_WORD}}}")
_DICT_LINE = re.compile(f"^([{_HAN}]{{{_MIN_WORD},{_MAX_WORD}}}) ", re.MULTILINE)
_CODE_BITS = 15  # a character's index in the dictionary's alphabet; 4 of them fit a uint64
_BATCH_CHARS = 500_000  # texts are matched in batches of about this many characters
_PRODUCT_ROWS = 1_000  # rows of X·Xᵀ computed at a time
# A row's prefix norm stays below this (and the threshold): measured best on a week of
# 20,000 tickets at thresholds 0.5 and 0.75 (see `_pairs`).
_PREFIX_BUDGET = 0.4
_EPSILON = 1e-9  # a text and its copy score 0.9999999999999998
# One cluster holding this share of the period (and more than _GIANT_MIN tickets) has most
# likely been chained together through tickets that each resemble the next a little.
_GIANT_SHARE, _GIANT_MIN, _MAX_SPLITS = 0.3, 50, 3
_DIGIT = re.compile(r"[0-9０-９]")


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Topic:
    """A cluster of similar tickets of the period (热点问题)."""

    label: str  # top keywords joined by "、", e.g. "噪音、施工、夜间"
    keywords: tuple[str, ...]  # up to 5, most characteristic first
    count: int  # tickets in the cluster
    ticket_ids: tuple[int, ...]  # up to 5 examples, most recent first
    category: str | None  # most common first-level category ("城市管理"), None if none


@dataclass(frozen=True, slots=True)
class HotSpot:
    """The tickets of one topic at one place (热点地区)."""

    place: str  # community name, else street name, else the normalised address
    topic: str  # the Topic.label of the cluster
    count: int
    ticket_ids: tuple[int, ...]  # up to 5, most recent first


@dataclass(frozen=True, slots=True)
class RisingTopic:
    """A keyword on more tickets than in the weeks before (上升问题)."""

    keyword: str
    count: int  # tickets this period whose keywords include it
    baseline: float  # mean per week over the previous weeks
    ratio: float | None  # count / baseline; None when baseline is 0 (new)


@dataclass(frozen=True, slots=True)
class TopicReport:
    """What `hot_topics` found in a period."""

    tickets: int  # tickets considered in the period
    topics: list[Topic]  # biggest first, at most `limit`
    hot_spots: list[HotSpot]  # biggest first, at most `limit`
    rising: list[RisingTopic]  # steepest first, at most `limit`


# ---------------------------------------------------------------- words


@dataclass(frozen=True, slots=True, eq=False)
class _Lexicon:
    """jieba's dictionary as bitsets and sorted keys, to match many texts at once with numpy.

    A character is its index in the dictionary's alphabet (1..K, 0 for any other character);
    a pair of characters is first * width + second; a word of 3 or 4 characters is the
    indices packed into one uint64, 15 bits each.
    """

    words: npt.NDArray[np.str_]  # sorted: a word's id is its index, so ids sort like words
    topical: npt.NDArray[np.bool_]  # per word id: neither a stop word nor a number
    alphabet: npt.NDArray[np.int32]  # per code point of the BMP: its index, or 0
    width: int  # K + 1
    # Per word length, bitsets over pairs: the words' first pair and (3, 4) their last pair.
    heads: dict[int, npt.NDArray[np.uint64]]
    tails: dict[int, npt.NDArray[np.uint64]]
    # Two-character words: set bits before each 64-bit block, and the ids in pair order.
    rank: Ints
    pair_words: Ints
    # Three- and four-character words: sorted keys and the word ids in that order.
    keys: dict[int, npt.NDArray[np.uint64]]
    key_words: dict[int, Ints]

    def scan(self, texts: Sequence[str]) -> tuple[Ints, Ints, npt.NDArray[np.bool_]]:
        """Return the text index and word id of every topical word, in order of the texts,
        and whether each is a word of its own (not one inside a longer word).
        """
        parts: list[tuple[Ints, Ints, npt.NDArray[np.bool_]]] = []
        first = 0
        while first < len(texts):
            last, size = first, 0
            while last < len(texts) and (size < _BATCH_CHARS or last == first):
                size += len(texts[last]) + 1
                last += 1
            doc, word, whole = self._scan_batch(texts[first:last])
            parts.append((doc + first, word, whole))
            first = last
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.bool_)
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )

    def _scan_batch(self, texts: Sequence[str]) -> tuple[Ints, Ints, npt.NDArray[np.bool_]]:
        # One string, texts apart by a character no word holds, padded so that a window of
        # _MAX_WORD characters never runs past the end.
        joined = "\x00".join(texts) + "\x00" * _MAX_WORD
        points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        # Characters beyond the BMP read as U+FFFF, which is in no word.
        codes = self.alphabet[np.minimum(points, 0xFFFF)]
        size = len(codes) - _MAX_WORD
        pairs = codes[:-1] * self.width + codes[1:]
        length = np.zeros(size, np.int64)
        word = np.zeros(size, np.int64)
        # Longest first: a position takes the longest dictionary word starting there.
        for n in range(_MAX_WORD, _MIN_WORD, -1):
            starts = np.flatnonzero(
                _test(self.heads[n], pairs[:size])
                & _test(self.tails[n], pairs[n - 2 : size + n - 2])
            )
            starts = starts[length[starts] == 0]
            key = codes[starts].astype(np.uint64)
            for j in range(1, n):
                key = (key << np.uint64(_CODE_BITS)) | codes[starts + j].astype(np.uint64)
            keys = self.keys[n]
            at = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
            hit = keys[at] == key
            length[starts[hit]] = n
            word[starts[hit]] = self.key_words[n][at[hit]]
        # Two characters: the pair's bit says whether it is a word, the bits before it which.
        starts = np.flatnonzero((length == 0) & _test(self.heads[2], pairs[:size]))
        length[starts] = 2
        word[starts] = self._pair_word(pairs[starts])
        starts = np.flatnonzero(length)
        ends = starts + length[starts]
        # A word inside an earlier, longer one (扰民 in 噪音扰民) is no word of the text.
        reach = np.maximum.accumulate(np.concatenate(([0], ends[:-1])))
        inside = ends <= reach
        starts, ends = starts[~inside], ends[~inside]
        # Of words that overlap (要求 and 求学 in 要求学生), the earlier stays: forward maximum
        # matching. A word is dropped only when the word before it stays, so that chains
        # (A overlaps B overlaps C) are settled one link per round.
        while len(starts) > 1:
            overlaps = np.concatenate(([False], starts[1:] < ends[:-1]))
            if not overlaps.any():
                break
            dropped = overlaps & ~np.concatenate(([False], overlaps[:-1]))
            starts, ends = starts[~dropped], ends[~dropped]
        found = word[starts]
        keep = self.topical[found]
        starts, ends, found = starts[keep], ends[keep], found[keep]
        # As in jieba's search mode, a longer word also yields the two-character words in it
        # (工地 in 建筑工地, 噪音 in 噪音扰民), so that tickets saying it in other words meet.
        anchors, steps, words = [starts], [np.zeros(len(starts), np.int64)], [found]
        for step in range(_MAX_WORD - 1):
            inner = np.flatnonzero(ends - starts >= max(3, step + 2))
            at = starts[inner] + step
            is_word = _test(self.heads[2], pairs[at])
            inner, at = inner[is_word], at[is_word]
            sub = self._pair_word(pairs[at])
            topical = self.topical[sub]
            anchors.append(starts[inner][topical])
            steps.append(np.full(int(topical.sum()), step + 1, np.int64))
            words.append(sub[topical])
        kinds = np.concatenate(steps)
        order = np.lexsort((kinds, np.concatenate(anchors)))
        starts, found = np.concatenate(anchors)[order], np.concatenate(words)[order]
        bounds = np.cumsum(np.fromiter((len(t) + 1 for t in texts), np.int64, len(texts)))
        doc = np.searchsorted(bounds, starts, side="right").astype(np.int64)
        return doc, found, kinds[order] == 0

    def _pair_word(self, pairs: npt.NDArray[np.int32]) -> Ints:
        """Return the word ids of pairs that are two-character words."""
        block = self.heads[2][pairs >> 6]
        below = (np.uint64(1) << (pairs & 63).astype(np.uint64)) - np.uint64(1)
        rank: Ints = self.rank[pairs >> 6] + np.bitwise_count(block & below)
        return self.pair_words[rank]


def _test(bits: npt.NDArray[np.uint64], at: npt.NDArray[np.int32]) -> npt.NDArray[np.bool_]:
    """Return whether the bits at these positions are set."""
    shifted: npt.NDArray[np.uint64] = bits[at >> 6] >> (at & 63).astype(np.uint64)
    return (shifted & np.uint64(1)).astype(np.bool_)


def _bitset(size: int, at: Ints) -> npt.NDArray[np.uint64]:
    """Return a bitset of `size` bits with the bits at these positions set."""
    bits = np.zeros((size + 63) // 64, np.uint64)
    np.bitwise_or.at(bits, at >> 6, np.uint64(1) << (at & 63).astype(np.uint64))
    return bits


@functools.cache
def _lexicon() -> _Lexicon:
    """Build the lexicon once per process: about half a second, 50 MB of arrays."""
    with jieba.get_dict_file() as f:
        listed = _DICT_LINE.findall(f.read().decode("utf-8"))
    ours = [w for w in (*GOVERNMENT_TERMS, *STOP_WORDS) if _HAN_WORD.fullmatch(w)]
    # Stop words stay in the lexicon: they take their characters, then are dropped. numpy
    # sorts and dedupes the 330,000 words in C, by code point as Python would.
    vocabulary = np.sort(np.array(listed + ours, dtype=f"<U{_MAX_WORD}"))
    vocabulary = vocabulary[np.concatenate(([True], vocabulary[1:] != vocabulary[:-1]))]
    lengths = np.char.str_len(vocabulary).astype(np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    points = np.frombuffer("".join(vocabulary.tolist()).encode("utf-32-le"), dtype=np.uint32)
    present = np.zeros(0x10000, np.bool_)
    present[points] = True
    letters = np.flatnonzero(present)
    if len(letters) >= 1 << _CODE_BITS:
        raise RuntimeError("jieba's dictionary has more characters than a 15-bit code holds")
    alphabet = np.zeros(0x10000, np.int32)
    alphabet[letters] = np.arange(1, len(letters) + 1)
    width = len(letters) + 1
    codes = alphabet[points]
    numeral = np.zeros(0x10000, np.bool_)
    numeral[[ord(ch) for ch in _NUMBER_CHARS]] = True
    topical = ~np.isin(vocabulary, np.array(sorted(STOP_WORDS)))
    topical &= ~np.logical_and.reduceat(numeral[points], offsets)
    heads: dict[int, npt.NDArray[np.uint64]] = {}
    tails: dict[int, npt.NDArray[np.uint64]] = {}
    keys: dict[int, npt.NDArray[np.uint64]] = {}
    key_words: dict[int, Ints] = {}
    for n in range(_MIN_WORD, _MAX_WORD + 1):
        of_length = np.flatnonzero(lengths == n)
        chars = codes[offsets[of_length][:, None] + np.arange(n)]
        heads[n] = _bitset(width * width, chars[:, 0] * width + chars[:, 1])
        if n > _MIN_WORD:
            tails[n] = _bitset(width * width, chars[:, n - 2] * width + chars[:, n - 1])
        key = np.zeros(len(of_length), np.uint64)
        for j in range(n):
            key = (key << np.uint64(_CODE_BITS)) | chars[:, j].astype(np.uint64)
        order = np.argsort(key, kind="stable")
        keys[n], key_words[n] = key[order], of_length[order].astype(np.int64)
    # Two-character keys sort like their pairs: key_words[2] is in pair order.
    counts = np.bitwise_count(heads[2]).astype(np.int64)
    rank = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return _Lexicon(
        vocabulary, topical, alphabet, width, heads, tails, rank, key_words[2], keys, key_words
    )


def tokenize(text: str) -> list[str]:
    """Return the words of a text that topics are made of, in order.

    No stop words, numbers, punctuation, Latin letters or single characters.
    """
    lexicon = _lexicon()
    _, found, whole = lexicon.scan([text])
    return [str(word) for word in lexicon.words[found[whole]]]


# ---------------------------------------------------------------- vectors and clusters


@dataclass(frozen=True, slots=True, eq=False)
class _Space:
    """TF-IDF vectors of a set of texts, and the means to read other texts the same way."""

    terms: tuple[str, ...]  # the columns, sorted
    word_ids: Ints  # the columns' word ids in the lexicon, sorted
    weights: Any  # the fitted TfidfTransformer
    matrix: Any  # CSR, one L2-normalised row per text

    @classmethod
    def fit(cls, texts: Sequence[str]) -> "_Space":
        lexicon = _lexicon()
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
        docs, found, _ = _lexicon().scan(texts)
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


def _top_columns(matrix: Any, limit: int) -> tuple[Ints, Ints]:
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


def _clusters(matrix: Any, similarity: float, min_cluster: int) -> list[Ints]:
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


def _check(similarity: float, min_cluster: int) -> None:
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
    _check(similarity, min_cluster)
    if not texts:
        return []
    space = _Space.fit(texts)
    return [c.tolist() for c in _clusters(space.matrix, similarity, min_cluster)]


def cluster_keywords(
    texts: Sequence[str], clusters: Sequence[Sequence[int]], *, limit: int = TOPIC_KEYWORDS
) -> list[tuple[str, ...]]:
    """Return each cluster's keywords: its words of highest summed TF-IDF weight, up to `limit`.

    The weights are fit on all the texts, so words every cluster uses weigh little.
    """
    if not texts:
        return [() for _ in clusters]
    space = _Space.fit(texts)
    return [space.keywords(list(c), limit) for c in clusters]


# ---------------------------------------------------------------- the report


@dataclass(frozen=True, slots=True)
class _Ticket:
    id: int
    text: str
    category: str | None
    place: str | None
    created_at: dt.datetime


def _text(
    title: str,
    content: str,
    address: str | None,
    units: tuple[int | None, int | None, int | None],
    names: dict[int, str],
) -> str:
    """Return what a ticket is about: title and content without the ticket's own place.

    The address (as written, without spaces, and up to its first digit: 湖滨街道阳光花园 of
    湖滨街道阳光花园3号楼) and the names of its community, street and district are where,
    not what: they go to the hot spots, not into the words.
    """
    text = title + "\n" + content[:MAX_CONTENT_CHARS]
    if address:
        bare = "".join(address.split())
        # Longest first: each holds the next.
        for place in (address, bare, _DIGIT.split(bare, maxsplit=1)[0]):
            if len(place) >= _MIN_WORD:
                text = text.replace(place, " ")
    for unit_id in units:
        name = names.get(unit_id or 0, "")
        if len(name) >= _MIN_WORD:
            text = text.replace(name, " ")
    return text


def _place(
    community_id: int | None, street_id: int | None, address: str | None, names: dict[int, str]
) -> str | None:
    for unit_id in (community_id, street_id):
        if unit_id is not None and names.get(unit_id):
            return names[unit_id]
    return "".join((address or "").split()) or None


def _first_level(category: str | None) -> str | None:
    level = (category or "").split("/", 1)[0].strip()
    return level or None


def _recent(tickets: Sequence[_Ticket]) -> tuple[int, ...]:
    ordered = sorted(tickets, key=lambda t: (t.created_at, t.id), reverse=True)
    return tuple(t.id for t in ordered[:EXAMPLES])


# What a ticket's text is made of; read through the session's connection as plain rows.
_TEXT_COLUMNS = (
    Ticket.title,
    Ticket.content,
    Ticket.address,
    Ticket.community_id,
    Ticket.street_id,
    Ticket.district_id,
)


def _load_period(
    session: Session, start: dt.datetime, end: dt.datetime, names: dict[int, str]
) -> list[_Ticket]:
    rows = (
        session.connection()
        .execute(
            sa.select(*_TEXT_COLUMNS, Ticket.id, Ticket.category, Ticket.created_at)
            .where(
                Ticket.created_at >= start,
                Ticket.created_at < end,
                Ticket.status != TicketStatus.MERGED,
            )
            .order_by(Ticket.id)
        )
        .all()
    )
    return [
        _Ticket(
            id_,
            _text(title, content, address, (community, street, district), names),
            category,
            _place(community, street, address, names),
            created_at,
        )
        for title, content, address, community, street, district, id_, category, created_at in rows
    ]


def _load_before(
    session: Session, start: dt.datetime, weeks: int, names: dict[int, str]
) -> tuple[list[str], list[int]]:
    """Return the texts of the `weeks` weeks before start, and how many in each week.

    One query a week: no timestamps to read back and convert.
    """
    texts: list[str] = []
    sizes: list[int] = []
    for week in range(weeks):
        rows = (
            session.connection()
            .execute(
                sa.select(*_TEXT_COLUMNS)
                .where(
                    Ticket.created_at >= start - dt.timedelta(weeks=week + 1),
                    Ticket.created_at < start - dt.timedelta(weeks=week),
                    Ticket.status != TicketStatus.MERGED,
                )
                .order_by(Ticket.id)
            )
            .all()
        )
        before = len(texts)
        texts += (
            _text(title, content, address, (community, street, district), names)
            for title, content, address, community, street, district in rows
        )
        sizes.append(len(texts) - before)
    return texts, sizes


def _topic(tickets: Sequence[_Ticket], space: _Space, cluster: Ints) -> Topic:
    members = [tickets[i] for i in cluster]
    keywords = space.keywords(cluster)
    levels = Counter(level for t in members if (level := _first_level(t.category)))
    category = min(levels, key=lambda k: (-levels[k], k)) if levels else None
    return Topic("、".join(keywords), keywords, len(members), _recent(members), category)


def _topics_and_spots(
    tickets: Sequence[_Ticket], space: _Space, clusters: Sequence[Ints], limit: int, least: int
) -> tuple[list[Topic], list[HotSpot]]:
    """Return the biggest topics and hot spots; only the clusters shown are named.

    The clusters come biggest first, ties by their first ticket (the lowest id).
    """
    named: dict[int, Topic] = {}

    def topic(k: int) -> Topic:
        if k not in named:
            named[k] = _topic(tickets, space, clusters[k])
        return named[k]

    spots: list[tuple[str, int, list[_Ticket]]] = []
    for k, cluster in enumerate(clusters):
        at: dict[str, list[_Ticket]] = {}
        for i in cluster:
            place = tickets[i].place
            if place:
                at.setdefault(place, []).append(tickets[i])
        spots += ((place, k, here) for place, here in at.items() if len(here) >= least)
    spots.sort(key=lambda spot: (-len(spot[2]), spot[0], spot[1]))
    return [topic(k) for k in range(min(limit, len(clusters)))], [
        HotSpot(place, topic(k).label, len(here), _recent(here)) for place, k, here in spots[:limit]
    ]


def _rising(
    space: _Space, before: Any, week_sizes: Sequence[int], min_cluster: int, limit: int
) -> list[RisingTopic]:
    """Keywords counted this period against their mean per week before.

    Weeks without a single ticket (before the hotline's records begin) are left out of the
    mean rather than counted as weeks of zero.
    """
    width = len(space.terms)
    _, columns = _top_columns(space.matrix, TICKET_KEYWORDS)
    now = np.bincount(columns, minlength=width)
    earlier = np.zeros(width, np.int64)
    if before.shape[0]:
        _, columns = _top_columns(before, TICKET_KEYWORDS)
        earlier = np.bincount(columns, minlength=width)
    weeks = sum(1 for size in week_sizes if size)
    rising = []
    for column in np.flatnonzero(now >= min_cluster):
        count = int(now[column])
        baseline = float(earlier[column]) / weeks if weeks else 0.0
        ratio = count / baseline if baseline else None
        if ratio is None or ratio >= RISING_RATIO:
            rising.append(RisingTopic(space.terms[column], count, baseline, ratio))
    rising.sort(key=lambda r: (r.ratio is not None, -(r.ratio or 0.0), -r.count, r.keyword))
    # 噪音 after 噪音扰民 says the same again.
    shown: list[RisingTopic] = []
    for topic in rising:
        if len(shown) == limit:
            break
        if not any(topic.keyword in s.keyword or s.keyword in topic.keyword for s in shown):
            shown.append(topic)
    return shown


def hot_topics(
    session: Session,
    start: dt.datetime,
    end: dt.datetime,
    *,
    previous_weeks: int = 4,
    limit: int = 10,
    min_cluster: int = 3,
    similarity: float = 0.5,
) -> TopicReport:
    """Cluster the tickets created in [start, end) into topics, hot spots and rising keywords.

    Merged tickets (duplicates of a master) are left out, in the period and before it.

    - Topics: clusters of `min_cluster` tickets or more whose TF-IDF vectors link at cosine
      ≥ `similarity` (see `cluster_texts`), biggest first.
    - Hot spots: the tickets of one topic at one place (community, else street, else the
      address without whitespace), `min_cluster` or more, biggest first.
    - Rising: keywords (each ticket's 3 heaviest words) on `min_cluster` tickets or more that
      are new or at least twice their mean per week over the `previous_weeks` weeks (of 7
      days) before start, read with this period's words and weights. The period is meant to
      be one week: its count is compared with the weekly mean as it is. With
      `previous_weeks=0` there is nothing to compare with and nothing rises.

    Same tickets, same report: ties are broken by the lowest ticket id, place and keyword.
    """
    _check(similarity, min_cluster)
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    if previous_weeks < 0 or limit < 0:
        raise ValueError("previous_weeks and limit must not be negative")
    # The catalogue of units is small (hundreds): all names at once.
    names = {unit_id: name for unit_id, name in session.execute(sa.select(Unit.id, Unit.name))}
    tickets = _load_period(session, start, end, names)
    if not tickets:
        return TopicReport(0, [], [], [])
    space = _Space.fit([t.text for t in tickets])
    clusters = _clusters(space.matrix, similarity, min_cluster)
    topics, spots = _topics_and_spots(tickets, space, clusters, limit, min_cluster)
    rising = []
    if previous_weeks:
        texts_before, week_sizes = _load_before(session, start, previous_weeks, names)
        rising = _rising(space, space.read(texts_before), week_sizes, min_cluster, limit)
    return TopicReport(len(tickets), topics, spots, rising)

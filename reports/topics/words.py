"""The words topics are made of: jieba's dictionary matched over many texts at once.

A ticket's text is cut into words of 2 to 4 Chinese characters by forward maximum matching
over jieba's dictionary and the hotline's government terms (infra.text); as in jieba's search
mode, a longer word also yields the two-character words in it. Stop words (`STOP_WORDS`),
numbers, Latin letters, digits, punctuation and single characters are dropped. Not
`jieba.lcut`: it takes about 0.55 ms for a 110-character ticket on the 2-core bench machine,
11 s for a week of 20,000 tickets and 55 s with the four weeks before; the same dictionary
matched with numpy over all the texts at once takes about 0.25 s a week (`Lexicon`). Where
two readings compete it takes the first (南城区 → 南城/区, where jieba says 南/城区); a topic is
many tickets, and such slips neither make nor break one.

Pure: no database, no web.
"""

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import jieba
import numpy as np
import numpy.typing as npt

from infra.text import GOVERNMENT_TERMS
from infra.text import STOP_WORDS as ROUTING_STOP_WORDS

Ints = npt.NDArray[np.int64]

# Hotline boilerplate: words every ticket may use whatever its matter. Generic function
# words come from the routing list (infra.text); single characters are dropped anyway.
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

MIN_WORD, MAX_WORD = 2, 4
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"  # CJK unified ideographs and extension A
_HAN_WORD = re.compile(f"[{_HAN}]{{{MIN_WORD},{MAX_WORD}}}")
_DICT_LINE = re.compile(f"^([{_HAN}]{{{MIN_WORD},{MAX_WORD}}}) ", re.MULTILINE)
_CODE_BITS = 15  # a character's index in the dictionary's alphabet; 4 of them fit a uint64
_BATCH_CHARS = 500_000  # texts are matched in batches of about this many characters


@dataclass(frozen=True, slots=True, eq=False)
class Lexicon:
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
        # MAX_WORD characters never runs past the end.
        joined = "\x00".join(texts) + "\x00" * MAX_WORD
        points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        # Characters beyond the BMP read as U+FFFF, which is in no word.
        codes = self.alphabet[np.minimum(points, 0xFFFF)]
        size = len(codes) - MAX_WORD
        pairs = codes[:-1] * self.width + codes[1:]
        length = np.zeros(size, np.int64)
        word = np.zeros(size, np.int64)
        # Longest first: a position takes the longest dictionary word starting there.
        for n in range(MAX_WORD, MIN_WORD, -1):
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
        for step in range(MAX_WORD - 1):
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
def load_lexicon() -> Lexicon:
    """Build the lexicon once per process: about half a second, 50 MB of arrays."""
    with jieba.get_dict_file() as f:
        listed = _DICT_LINE.findall(f.read().decode("utf-8"))
    ours = [w for w in (*GOVERNMENT_TERMS, *STOP_WORDS) if _HAN_WORD.fullmatch(w)]
    # Stop words stay in the lexicon: they take their characters, then are dropped. numpy
    # sorts and dedupes the 330,000 words in C, by code point as Python would.
    vocabulary = np.sort(np.array(listed + ours, dtype=f"<U{MAX_WORD}"))
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
    for n in range(MIN_WORD, MAX_WORD + 1):
        of_length = np.flatnonzero(lengths == n)
        chars = codes[offsets[of_length][:, None] + np.arange(n)]
        heads[n] = _bitset(width * width, chars[:, 0] * width + chars[:, 1])
        if n > MIN_WORD:
            tails[n] = _bitset(width * width, chars[:, n - 2] * width + chars[:, n - 1])
        key = np.zeros(len(of_length), np.uint64)
        for j in range(n):
            key = (key << np.uint64(_CODE_BITS)) | chars[:, j].astype(np.uint64)
        order = np.argsort(key, kind="stable")
        keys[n], key_words[n] = key[order], of_length[order].astype(np.int64)
    # Two-character keys sort like their pairs: key_words[2] is in pair order.
    counts = np.bitwise_count(heads[2]).astype(np.int64)
    rank = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return Lexicon(
        vocabulary, topical, alphabet, width, heads, tails, rank, key_words[2], keys, key_words
    )


def tokenize(text: str) -> list[str]:
    """Return the words of a text that topics are made of, in order.

    No stop words, numbers, punctuation, Latin letters or single characters.
    """
    lexicon = load_lexicon()
    _, found, whole = lexicon.scan([text])
    return [str(word) for word in lexicon.words[found[whole]]]

"""Chinese text for routing and search: jieba tokens with the hotline's own words, stop words.

One `Tokenizer` per process holds a jieba dictionary with the hotline's own words added
(unit names, catalogue keywords, place names, government terms), so that "占道经营" or
"湖滨街道" stay one token. Adding words is idempotent; a trained model carries the words it
was trained with and adds them again when it is loaded.
"""

import functools
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import jieba

from kernel.text import normalise

# jieba logs its dictionary loading at DEBUG on its own stderr handler: keep it quiet.
jieba.setLogLevel(logging.WARNING)


# Terms of government service that jieba's general dictionary splits apart.
GOVERNMENT_TERMS: tuple[str, ...] = (
    "12345",
    "来电人",
    "占道经营",
    "流动摊贩",
    "噪音扰民",
    "私搭乱建",
    "违法建设",
    "飞线充电",
    "楼道堆物",
    "僵尸车",
    "物业费",
    "物业公司",
    "业主委员会",
    "维修资金",
    "加装电梯",
    "老旧小区",
    "公租房",
    "廉租房",
    "不动产证",
    "公积金",
    "住房公积金",
    "社保卡",
    "医保卡",
    "养老保险",
    "失业保险",
    "工伤认定",
    "欠薪",
    "拖欠工资",
    "农民工工资",
    "劳动合同",
    "义务教育",
    "学区房",
    "校外培训",
    "入学",
    "网约车",
    "出租车",
    "公交线路",
    "公交站",
    "渣土车",
    "油烟扰民",
    "黑臭水体",
    "环评",
    "食品安全",
    "预付卡",
    "消费维权",
    "价格欺诈",
    "新农合",
    "医疗保险",
    "计划生育",
    "独生子女",
    "高龄津贴",
    "低保",
    "临时救助",
    "停水",
    "停电",
    "停气",
    "燃气泄漏",
)

STOP_WORDS: frozenset[str] = frozenset(
    """
    的 了 是 在 和 与 及 或 也 都 就 还 又 很 太 更 最 把 被 对 给 让 向 从 到 于 为 以 而 并 但 且
    吧 吗 呢 啊 呀 哦 嘛 么 着 过 之 其 此 该 这 那 这个 那个 这些 那些 这样 那样 一个 一些 个
    我 你 他 她 它 我们 你们 他们 她们 自己 本人 大家 有 没 没有 不 无 非 能 会 要 想 可以 可能
    已经 已 曾 正在 将 就是 还是 但是 因为 所以 如果 虽然 然后 现在 目前 今天 昨天 日前 近日
    来电人 来电 市民 群众 反映 表示 称 诉求 问题 情况 相关 有关 部门 领导 您好 你好 尊敬 谢谢 感谢您
    请 帮忙 希望 要求 尽快 一下 时间 今年 去年 年 月 日 号
    """.split()
)

_PUNCT_TOKEN = re.compile(r"^[\W_]+$", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Document:
    """What the router reads of a ticket."""

    title: str
    text: str = ""

    @classmethod
    def of(cls, title: str | None, text: str | None) -> "Document":
        return cls(normalise(title, 200), normalise(text))


class Tokenizer:
    """jieba with the hotline's user dictionary; safe to share between threads."""

    def __init__(self, words: Iterable[str] = ()) -> None:
        self._jieba = jieba.Tokenizer()
        self._lock = threading.Lock()
        # The three routing models read the same draft: cut it once.
        self._cut = functools.lru_cache(maxsize=256)(self._cut_uncached)
        self._added: set[str] = set()
        self._ready = False
        self.add_words(GOVERNMENT_TERMS)
        self.add_words(words)

    def add_words(self, words: Iterable[str]) -> None:
        """Add words to the user dictionary (once each)."""
        new = [w.strip() for w in words if w and w.strip() and w.strip() not in self._added]
        if not new:
            return
        with self._lock:
            self._initialise()
            for word in new:
                if word not in self._added:
                    # A high frequency makes jieba keep the word whole inside longer runs.
                    self._jieba.add_word(word, freq=max(2000, 200 * len(word)))
                    self._added.add(word)
            self._cut.cache_clear()

    @property
    def user_words(self) -> tuple[str, ...]:
        return tuple(sorted(self._added))

    def _initialise(self) -> None:
        if not self._ready:
            self._jieba.initialize()
            self._ready = True

    def words(self, text: str, *, keep_stop_words: bool = False, hmm: bool = True) -> list[str]:
        """Cut text into words, without punctuation, spaces and (by default) stop words.

        `hmm=False` skips jieba's HMM, which guesses words the dictionary lacks: a third of
        the cost of cutting, worth it for titles, not for long texts.
        """
        if not self._ready:
            with self._lock:
                self._initialise()
        tokens = self._cut(text, hmm)
        if keep_stop_words:
            return list(tokens)
        return [t for t in tokens if t not in STOP_WORDS]

    def _cut_uncached(self, text: str, hmm: bool = True) -> tuple[str, ...]:
        out = []
        for token in self._jieba.lcut(text, HMM=hmm):
            token = token.strip().lower()
            if token and not _PUNCT_TOKEN.match(token):
                out.append(token)
        return tuple(out)


_shared: Tokenizer | None = None
_shared_lock = threading.Lock()


def shared_tokenizer() -> Tokenizer:
    """Return this process's tokenizer (jieba's dictionary loads once, in about half a second)."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = Tokenizer()
    return _shared

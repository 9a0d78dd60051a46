"""Demo knowledge base of the fictional city 江城市: articles and the synonyms a hotline keeps.

The articles live in demo_articles.md, in the Markdown import format (kb/transfer.py), so the
demo goes through the same reader as a unit's upload. Units are written by name; a name the
demo's 派单目录 lacks falls back to the hotline. Two articles are overdue for review and one
has expired (as of late 2026), so the demo shows those flags.
"""

from importlib import resources

from kb.transfer import ArticleRecord
from kb.transfer import read_articles

__all__ = ["SYNONYMS", "demo_articles"]

ARTICLES_FILE = "demo_articles.md"

# Words a caller and an article use for the same thing: colloquial first, then official.
# Each word is in one group only, so expanding a query never chains one group into another.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("孩子", "子女", "小孩", "儿童", "小朋友"),
    ("上学", "入学", "读书", "就读"),
    ("公积金", "住房公积金"),
    ("取", "提取", "支取", "取出"),
    ("社保", "社会保险"),
    ("医保", "医疗保险", "基本医疗保险"),
    ("身份证", "居民身份证"),
    ("户口", "户籍"),
    ("营业执照", "执照"),
    ("物业", "物业公司", "物业服务企业"),
    ("停水", "断水", "没水"),
    ("停电", "断电", "没电"),
    ("燃气", "天然气", "煤气"),
    ("报销", "结算"),
    ("怎么办", "如何办理", "办理流程", "怎么办理"),
    ("噪音", "噪声"),
    ("扰民", "吵闹", "太吵"),
    ("摆摊", "占道经营", "流动摊贩"),
    ("电动车", "电动自行车", "电瓶车"),
    ("上牌", "挂牌", "登记上牌"),
    ("驾照", "驾驶证", "机动车驾驶证"),
    ("公交卡", "江城通", "乘车卡"),
    ("老年卡", "老年人优待证", "敬老卡"),
    ("残疾证", "残疾人证"),
    ("失业金", "失业保险金"),
    ("异地就医", "外地看病", "异地就诊"),
    ("买房", "购房", "购买住房"),
    ("租房", "租赁住房", "租住"),
    ("补办", "补领"),
    ("退伍军人", "退役军人"),
    ("新生儿", "宝宝", "婴儿"),
)


def demo_articles() -> list[ArticleRecord]:
    """Read the demo articles shipped with the package."""
    data = resources.files("kb").joinpath(ARTICLES_FILE).read_bytes()
    return read_articles(ARTICLES_FILE, data)

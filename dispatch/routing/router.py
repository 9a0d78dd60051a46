"""Ticket routing (分得更准): suggest the unit, category and request type; decide auto-dispatch.

Three classifiers of one kind (`dispatch.routing.classifier`) make a bundle: the routing target
(a city department or utility by its code, or `LOCAL` for "the street or district where it
happens"), the matter category (事项分类) and the request type (诉求类型). Each learns from
the dispatch catalogue (units' responsibility texts and keywords, the matter catalogue and
seed phrases), so routing works from the first day, and from the hotline's own decisions
once there are some (`dispatch.routing.learning`). The locality found in the address or the text
turns `LOCAL` into a street.
"""

import logging
import pickle
import re
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dispatch.routing.classifier import TextClassifier
from dispatch.routing.classifier import make_classifier
from dispatch.routing.classifier import score
from dispatch.routing.locality import Gazetteer
from dispatch.routing.locality import Locality
from dispatch.routing.locality import PlaceUnit
from dispatch.routing.locality import short_name
from dispatch.routing.models import Matter
from dispatch.routing.models import RoutingModel
from infra.models import Unit
from infra.text import Document
from infra.text import shared_tokenizer
from kernel.units import UnitKind
from kernel.vocabulary import RequestType

log = logging.getLogger(__name__)

LOCAL = "@local"  # routing target: the locality's street (or district)
TARGET_KINDS = (UnitKind.DEPARTMENT, UnitKind.UTILITY)
LOCAL_KINDS = (UnitKind.DISTRICT, UnitKind.STREET, UnitKind.COMMUNITY)

# Cold start for the request type: phrases citizens and operators use for each type.
REQUEST_TYPE_SEEDS: dict[RequestType, tuple[str, ...]] = {
    RequestType.ENQUIRY: (
        "咨询",
        "请问",
        "想问一下",
        "想了解",
        "如何办理",
        "怎么办理",
        "怎么申请",
        "需要什么材料",
        "需要哪些条件",
        "在哪里办理",
        "多久能办好",
        "能不能申请",
        "是否可以",
        "政策是什么",
        "咨询办理流程",
        "怎么提取",
        "什么时候开始",
    ),
    RequestType.HELP: (
        "求助",
        "请求帮助",
        "被困",
        "紧急求助",
        "急需帮助",
        "请尽快派人",
        "无法出门",
        "老人摔倒",
        "生活困难",
        "走失",
        "救命",
        "请求救助",
    ),
    RequestType.COMPLAINT: (
        "投诉",
        "坏了没人修",
        "不管不问",
        "没人管",
        "一直没有解决",
        "多次反映无人处理",
        "推诿",
        "严重影响生活",
        "扰民",
        "乱收费",
        "不给退",
        "拖欠",
        "态度恶劣",
        "太吵",
        "脏乱差",
        "故障停运",
        "漏水",
        "异味",
        "不作为",
    ),
    RequestType.REPORT: (
        "举报",
        "违法",
        "偷排",
        "非法",
        "无证经营",
        "假冒伪劣",
        "违规",
        "私自",
        "违章搭建",
        "诈骗",
        "骗取补贴",
        "涉嫌",
    ),
    RequestType.SUGGESTION: (
        "建议",
        "希望增设",
        "提议",
        "能否考虑",
        "建议增加",
        "建议优化",
        "希望出台",
        "建议完善",
        "可以考虑",
        "希望能够增加",
    ),
    RequestType.PRAISE: (
        "表扬",
        "感谢",
        "致谢",
        "送锦旗",
        "点赞",
        "服务热情",
        "认真负责",
        "非常满意",
        "为工作人员点赞",
        "表示感谢",
    ),
}


# ---------------------------------------------------------------------- the catalogue


@dataclass(frozen=True, slots=True)
class CatalogueUnit:
    id: int
    code: str
    name: str
    kind: UnitKind
    parent_id: int | None
    responsibility: str
    keywords: tuple[str, ...]
    places: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CatalogueMatter:
    path: str
    unit_code: str | None
    local: bool
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    """The dispatch catalogue as routing reads it: units and matters."""

    units: tuple[CatalogueUnit, ...]
    matters: tuple[CatalogueMatter, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {u.id: u for u in self.units})
        object.__setattr__(self, "by_code", {u.code: u for u in self.units})
        object.__setattr__(self, "matter_by_path", {m.path: m for m in self.matters})

    by_id: dict[int, CatalogueUnit] = field(init=False, repr=False, compare=False)
    by_code: dict[str, CatalogueUnit] = field(init=False, repr=False, compare=False)
    matter_by_path: dict[str, CatalogueMatter] = field(init=False, repr=False, compare=False)

    def gazetteer(self) -> Gazetteer:
        return Gazetteer(
            PlaceUnit(u.id, u.name, u.kind, u.parent_id, u.places)
            for u in self.units
            if u.kind in LOCAL_KINDS
        )

    def user_words(self) -> set[str]:
        """Words jieba must keep whole: unit names, keywords, places, category levels."""
        words: set[str] = set()
        for u in self.units:
            words.add(u.name)
            short = short_name(u.name, u.kind)
            if short:
                words.add(short)
            words.update(u.keywords)
            words.update(u.places)
        for m in self.matters:
            words.update(level for level in m.path.split("/") if level)
            words.update(m.keywords)
        return {w for w in words if 2 <= len(w) <= 12}

    def target_of(self, unit_id: int | None) -> str | None:
        """Return the routing target a unit stands for (its code, or LOCAL)."""
        unit = self.by_id.get(unit_id) if unit_id is not None else None
        if unit is None:
            return None
        return LOCAL if unit.kind in LOCAL_KINDS else unit.code


def load_catalogue(session: Session) -> Catalogue:
    units = tuple(
        CatalogueUnit(
            u.id,
            u.code,
            u.name,
            u.kind,
            u.parent_id,
            u.responsibility or "",
            tuple(u.keywords or ()),
            tuple(u.places or ()),
        )
        for u in session.scalars(sa.select(Unit).where(Unit.active).order_by(Unit.id))
    )
    codes = {u.id: u.code for u in units}
    matters = tuple(
        CatalogueMatter(
            m.path, codes.get(m.unit_id) if m.unit_id else None, m.local, tuple(m.keywords or ())
        )
        for m in session.scalars(sa.select(Matter).where(Matter.active).order_by(Matter.path))
    )
    return Catalogue(units, matters)


_SENTENCE = re.compile(r"[。；;！!？?\n]+")


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled ticket: its text and what the hotline decided for it."""

    ticket_id: int
    doc: Document
    target: str | None  # routing target; None when the ticket went to no unit
    category: str | None
    request_type: str | None
    weight: float = 1.0


def catalogue_examples(catalogue: Catalogue) -> list[Example]:
    """The cold-start training set: what the catalogue says each unit and matter covers."""
    out: list[Example] = []
    for u in catalogue.units:
        target = LOCAL if u.kind in LOCAL_KINDS else u.code
        for sentence in _SENTENCE.split(u.responsibility):
            if len(sentence) >= 4:
                out.append(Example(0, Document(sentence), target, None, None))
        for keyword in u.keywords:
            # A district's or community's own name says where, not what: it is not a topic.
            if u.kind in LOCAL_KINDS and u.name.startswith(keyword[:2]):
                continue
            out.append(Example(0, Document(keyword), target, None, None))
    for m in catalogue.matters:
        matter_target = LOCAL if m.local else m.unit_code
        levels = [level for level in m.path.split("/") if level]
        words = " ".join([*levels[1:], *m.keywords])
        out.append(Example(0, Document(levels[-1], words), matter_target, m.path, None))
        for keyword in m.keywords:
            out.append(Example(0, Document(keyword), matter_target, m.path, None))
    for rtype, phrases in REQUEST_TYPE_SEEDS.items():
        for phrase in phrases:
            out.append(Example(0, Document(phrase), None, None, rtype.value))
    return out


# ---------------------------------------------------------------------- the bundle

TASKS = ("target", "category", "request_type")


@dataclass
class RoutingBundle:
    """The three trained classifiers of one routing model version."""

    models: dict[str, TextClassifier]
    user_words: tuple[str, ...] = ()
    version: int | None = None  # None: built from the catalogue alone, not saved

    @classmethod
    def train(cls, examples: Sequence[Example], user_words: Iterable[str] = ()) -> "RoutingBundle":
        words = tuple(sorted(user_words))
        shared_tokenizer().add_words(words)
        models: dict[str, TextClassifier] = {}
        for task in TASKS:
            labelled = [(e.doc, getattr(e, task), e.weight) for e in examples]
            labelled = [row for row in labelled if row[1]]
            if len({label for _, label, _ in labelled}) < 2:
                continue
            model = make_classifier("title+text")
            model.fit(
                [d for d, _, _ in labelled],
                [str(label) for _, label, _ in labelled],
                [w for _, _, w in labelled],
            )
            models[task] = model
        return cls(models=models, user_words=words)

    def score(self, examples: Sequence[Example]) -> dict[str, Any]:
        """Scores per task on labelled examples (the held-back slice)."""
        result: dict[str, Any] = {}
        for task, model in self.models.items():
            rows = [(e.doc, getattr(e, task)) for e in examples if getattr(e, task)]
            if rows:
                result[task] = score(model, [d for d, _ in rows], [str(y) for _, y in rows])
                result[task]["n"] = len(rows)
        return result


# ---------------------------------------------------------------------- suggestions


@dataclass(frozen=True, slots=True)
class Draft:
    """What the operator has typed so far."""

    title: str = ""
    content: str = ""
    address: str | None = None
    caller_phone: str | None = None
    district_id: int | None = None
    street_id: int | None = None
    community_id: int | None = None


@dataclass(frozen=True, slots=True)
class UnitSuggestion:
    target: str  # a unit code or LOCAL
    unit_id: int | None  # None: a local matter with no locality found yet
    name: str
    confidence: float
    words: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Ranked:
    value: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Suggestion:
    units: tuple[UnitSuggestion, ...]
    categories: tuple[Ranked, ...]
    request_types: tuple[Ranked, ...]
    locality: Locality
    model_version: int | None
    elapsed_ms: float

    @property
    def top(self) -> UnitSuggestion | None:
        return self.units[0] if self.units else None


@dataclass(frozen=True, slots=True)
class AutoDecision:
    """Whether a new ticket is dispatched at once, and why (shown to the operator)."""

    dispatch: bool
    unit_id: int | None
    confidence: float
    threshold: float
    reason: str


class Router:
    """Suggests where a ticket goes. One per process; safe to share between threads.

    The active model version is looked up at most every `refresh_seconds`; the catalogue
    (units, matters) is cached as long.
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        *,
        threshold: float = 0.75,
        refresh_seconds: float = 30.0,
        enabled: bool = True,
    ) -> None:
        self._session_factory = session_factory
        self.threshold = threshold
        self.enabled = enabled
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._checked_at = -1e9
        self._catalogue: Catalogue | None = None
        self._gazetteer: Gazetteer | None = None
        self._bundle: RoutingBundle | None = None
        self._cold: RoutingBundle | None = None
        self._cold_key: tuple[Any, ...] | None = None

    # -------------------------------------------------------------- state

    def invalidate(self) -> None:
        """Re-read the catalogue and the active version at the next call."""
        self._checked_at = -1e9

    def _state(self) -> tuple[Catalogue, Gazetteer, RoutingBundle]:
        now = time.monotonic()
        if now - self._checked_at >= self.refresh_seconds or self._bundle is None:
            with self._lock:
                if now - self._checked_at >= self.refresh_seconds or self._bundle is None:
                    self._refresh()
                    self._checked_at = time.monotonic()
        assert self._catalogue and self._gazetteer and self._bundle
        return self._catalogue, self._gazetteer, self._bundle

    def _refresh(self) -> None:
        with self._session_factory() as session:
            catalogue = load_catalogue(session)
            active = session.execute(
                sa.select(RoutingModel.id).where(RoutingModel.status == "active")
            ).scalar()
            bundle = self._bundle
            if active is not None and (bundle is None or bundle.version != active):
                from dispatch.routing.learning import load_bundle

                try:
                    bundle = load_bundle(session, active)
                except (LookupError, ValueError, pickle.UnpicklingError, AttributeError):
                    # A version that cannot be read must not stop the front desk: keep what
                    # this process has, or route from the catalogue, and say so loudly.
                    log.exception("routing model v%s cannot be loaded; not using it", active)
                    active = None if bundle is None else bundle.version
        if catalogue != self._catalogue:
            self._catalogue = catalogue
            self._gazetteer = catalogue.gazetteer()
        if active is None or bundle is None:
            bundle = self._cold_bundle(catalogue)
        self._bundle = bundle

    def _cold_bundle(self, catalogue: Catalogue) -> RoutingBundle:
        key = (catalogue.units, catalogue.matters)
        if self._cold is None or self._cold_key != key:
            log.info("routing from the dispatch catalogue alone (no trained model yet)")
            self._cold = RoutingBundle.train(catalogue_examples(catalogue), catalogue.user_words())
            self._cold_key = key
        return self._cold

    @property
    def catalogue(self) -> Catalogue:
        return self._state()[0]

    # -------------------------------------------------------------- suggesting

    def locality(self, draft: Draft) -> Locality:
        """The locality the operator chose, else the one the address or text names."""
        _, gazetteer, _ = self._state()
        if draft.district_id or draft.street_id or draft.community_id:
            return _complete(gazetteer, draft)
        return gazetteer.extract(draft.address, f"{draft.title} {draft.content}")

    def suggest(self, draft: Draft, k: int = 3) -> Suggestion:
        started = time.perf_counter()
        catalogue, _, bundle = self._state()
        doc = Document.of(draft.title, draft.content)
        locality = self.locality(draft)
        categories = _ranked(bundle, "category", doc, 3)
        request_types = _ranked(bundle, "request_type", doc, 2)
        units = self._units(catalogue, bundle, doc, locality, categories, k)
        return Suggestion(
            units=tuple(units),
            categories=tuple(categories),
            request_types=tuple(request_types),
            locality=locality,
            model_version=bundle.version,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    def _units(
        self,
        catalogue: Catalogue,
        bundle: RoutingBundle,
        doc: Document,
        locality: Locality,
        categories: list[Ranked],
        k: int,
    ) -> list[UnitSuggestion]:
        model = bundle.models.get("target")
        if model is None:
            return []
        ranked = model.top(doc, len(model.labels))
        probs = {p.label: p.probability for p in ranked}
        # The catalogue has the last word on local matters: a street vendor at an address is
        # the street's, whatever the words also say about the city department.
        top_matter = catalogue.matter_by_path.get(categories[0].value) if categories else None
        matter_says_local = bool(top_matter and top_matter.local)
        if matter_says_local and categories[0].confidence > probs.get(LOCAL, 0.0):
            # `LOCAL` takes the category's probability and the others share the rest in
            # proportion. (Dividing by the new total instead put `LOCAL` below the category,
            # and below the auto-dispatch threshold: 0.5 and 0.9 gave 0.64.)
            sure = categories[0].confidence
            scale = (1.0 - sure) / (1.0 - probs.get(LOCAL, 0.0))
            probs = {label: p * scale for label, p in probs.items() if label != LOCAL}
            probs[LOCAL] = sure
        out: list[UnitSuggestion] = []
        for label, confidence in sorted(probs.items(), key=lambda kv: -kv[1]):
            suggestion = self._unit_suggestion(
                catalogue, model, doc, locality, label, confidence, matter_says_local
            )
            if suggestion is not None:
                out.append(suggestion)
            if len(out) == k:
                break
        return out

    def _unit_suggestion(
        self,
        catalogue: Catalogue,
        model: TextClassifier,
        doc: Document,
        locality: Locality,
        label: str,
        confidence: float,
        matter_says_local: bool,
    ) -> UnitSuggestion | None:
        words = tuple(model.explain(doc, label, 5))
        confidence = round(confidence, 4)
        if label != LOCAL:
            unit = catalogue.by_code.get(label)
            if unit is None:  # a unit deactivated since the model was trained
                return None
            return UnitSuggestion(label, unit.id, unit.name, confidence, words, "职能匹配")
        why = "事项目录规定属地办理" if matter_says_local else "属地事项"
        target_id = locality.street_id or locality.district_id
        if target_id is None:
            return UnitSuggestion(LOCAL, None, "属地街道（请补充地址）", confidence, words, why)
        unit = catalogue.by_id[target_id]
        return UnitSuggestion(LOCAL, unit.id, unit.name, confidence, words, why)

    def decide(self, suggestion: Suggestion, *, duplicates: int = 0) -> AutoDecision:
        """Whether to dispatch at once: the top unit is sure enough and nothing looks doubled."""
        top = suggestion.top
        threshold = self.threshold
        if not self.enabled:
            return AutoDecision(False, None, 0.0, threshold, "自动派单未启用")
        if top is None:
            return AutoDecision(False, None, 0.0, threshold, "没有可用的派单建议")
        conf = top.confidence
        if conf < threshold:
            return AutoDecision(
                False,
                top.unit_id,
                conf,
                threshold,
                f"最高置信度 {conf:.2f} 低于自动派单阈值 {threshold:.2f}，请人工选择承办单位",
            )
        if top.unit_id is None:
            return AutoDecision(
                False, None, conf, threshold, "属地事项但未识别出街道，请补充地址或选择属地"
            )
        if duplicates:
            return AutoDecision(
                False,
                top.unit_id,
                conf,
                threshold,
                f"发现 {duplicates} 件疑似重复工单，请先确认是否合并",
            )
        because = "、".join(top.words[:4]) or "文本特征"
        return AutoDecision(
            True,
            top.unit_id,
            conf,
            threshold,
            f"自动派单至{top.name}：置信度 {conf:.2f} ≥ 阈值 {threshold:.2f}；依据：{because}",
        )


def _ranked(bundle: RoutingBundle, task: str, doc: Document, k: int) -> list[Ranked]:
    model = bundle.models.get(task)
    if model is None:
        return []
    return [Ranked(p.label, round(p.probability, 4)) for p in model.top(doc, k)]


def _complete(gazetteer: Gazetteer, draft: Draft) -> Locality:
    """Fill in the levels above the lowest one the operator chose."""
    levels: dict[UnitKind, int] = {}
    node_id = draft.community_id or draft.street_id or draft.district_id
    while node_id is not None and node_id in gazetteer.units:
        node = gazetteer.units[node_id]
        levels[node.kind] = node.id
        node_id = node.parent_id
    return Locality(
        district_id=levels.get(UnitKind.DISTRICT),
        street_id=levels.get(UnitKind.STREET),
        community_id=levels.get(UnitKind.COMMUNITY),
        evidence=("人工选择",),
    )

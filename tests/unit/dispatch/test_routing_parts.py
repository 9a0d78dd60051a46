"""Routing's parts on hand-made text: tokens, locality, similarity and the classifier."""

import pickle
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import infra.text
from dispatch.routing.classifier import DataError
from dispatch.routing.classifier import LinearTextClassifier
from dispatch.routing.classifier import dumps
from dispatch.routing.classifier import evaluate
from dispatch.routing.classifier import loads
from dispatch.routing.classifier import read_labelled_tsv
from dispatch.routing.classifier import score
from dispatch.routing.duplicates import cosine
from dispatch.routing.duplicates import vector
from dispatch.routing.locality import Gazetteer
from dispatch.routing.locality import PlaceUnit
from dispatch.routing.locality import short_name
from infra.text import Document
from infra.text import Tokenizer
from kernel.text import MAX_ROUTING_CHARS
from kernel.text import has_words
from kernel.text import normalise
from kernel.units import UnitKind


@pytest.fixture(autouse=True, scope="module")
def fresh_tokenizer() -> Iterator[None]:
    """The process's jieba dictionary grows with every catalogue loaded (other test modules
    add theirs); these tests cut text with the built-in words only."""

    saved = infra.text._shared
    infra.text._shared = None
    yield
    infra.text._shared = saved


# ---------------------------------------------------------------- text


def test_normalise_folds_full_width_and_drops_control_characters() -> None:
    assert normalise("ＷｉＦｉ　信号\x00差\u200b！") == "WiFi 信号差!"


def test_normalise_caps_very_long_text() -> None:
    assert len(normalise("路" * 50_000)) == MAX_ROUTING_CHARS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", False),
        ("！？。，……", False),
        ("   \n\t", False),
        ("?!", False),
        ("a", True),
        ("电梯", True),
        ("١٢٣", True),
        ("WiFi信号差", True),
    ],
)
def test_has_words(text: str, expected: bool) -> None:
    assert has_words(text) is expected


def test_tokenizer_keeps_catalogue_words_whole_and_drops_stop_words() -> None:
    tok = Tokenizer(["湖滨街道", "阳光花园"])
    words = tok.words("来电人反映湖滨街道阳光花园门口有人占道经营，希望尽快处理！")
    assert "湖滨街道" in words and "阳光花园" in words and "占道经营" in words
    assert "来电人" not in words and "反映" not in words and "，" not in words
    assert "来电人" in tok.words("来电人反映", keep_stop_words=True)


def test_tokenizer_added_word_changes_later_cuts() -> None:
    tok = Tokenizer()
    assert "翠屏湾" not in tok.words("翠屏湾小区停电")
    tok.add_words(["翠屏湾"])
    assert "翠屏湾" in tok.words("翠屏湾小区停电")


# ---------------------------------------------------------------- locality

UNITS = [
    PlaceUnit(1, "东湖区", UnitKind.DISTRICT, None),
    PlaceUnit(2, "湖滨街道", UnitKind.STREET, 1, ("滨江路", "阳光花园")),
    PlaceUnit(3, "滨江社区", UnitKind.COMMUNITY, 2),
    PlaceUnit(4, "解放街道", UnitKind.STREET, 1, ("中山路",)),
    PlaceUnit(5, "西山区", UnitKind.DISTRICT, None),
    PlaceUnit(6, "翠屏街道", UnitKind.STREET, 5, ("中山路", "松林路")),
    PlaceUnit(7, "松林社区", UnitKind.COMMUNITY, 6),
]


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer(UNITS)


def test_full_address_gives_district_and_street(gazetteer: Gazetteer) -> None:
    loc = gazetteer.extract("东湖区湖滨街道滨江路88号", "")
    assert (loc.district_id, loc.street_id, loc.community_id) == (1, 2, None)
    assert "湖滨街道" in loc.evidence


def test_a_road_alone_finds_its_street_and_district(gazetteer: Gazetteer) -> None:
    loc = gazetteer.extract("滨江路27号", None)
    assert (loc.district_id, loc.street_id) == (1, 2)


def test_a_community_gives_the_whole_branch(gazetteer: Gazetteer) -> None:
    loc = gazetteer.extract(None, "我住在松林社区，楼下每天晚上广场舞音响太吵")
    assert (loc.district_id, loc.street_id, loc.community_id) == (5, 6, 7)


def test_short_names_are_understood(gazetteer: Gazetteer) -> None:
    assert gazetteer.extract("翠屏", None).street_id == 6
    assert short_name("湖滨街道", UnitKind.STREET) == "湖滨"
    assert short_name("东区", UnitKind.DISTRICT) is None  # one character left: too short


def test_a_place_two_streets_share_is_settled_by_the_district(gazetteer: Gazetteer) -> None:
    # 中山路 runs through both 解放街道 (东湖区) and 翠屏街道 (西山区).
    assert gazetteer.extract("中山路5号", None).street_id is None
    assert gazetteer.extract("西山区中山路5号", None).street_id in (None, 6)
    assert gazetteer.extract("西山区中山路5号", None).district_id == 5


def test_the_address_outweighs_a_place_mentioned_in_passing(gazetteer: Gazetteer) -> None:
    loc = gazetteer.extract("西山区翠屏街道松林路1号", "以前住在东湖区，现在搬到这里")
    assert (loc.district_id, loc.street_id) == (5, 6)


def test_no_place_means_no_locality(gazetteer: Gazetteer) -> None:
    loc = gazetteer.extract("某小区", "电梯坏了")
    assert not loc.found and loc.most_local_id is None


# ---------------------------------------------------------------- similarity


def test_cosine_of_word_vectors() -> None:
    a = vector(Document("小区电梯故障", "三号楼电梯停运，老人被困"))
    b = vector(Document("小区电梯又坏了", "三号楼电梯停运两天"))
    c = vector(Document("咨询公积金提取", "租房怎么提取公积金"))
    assert cosine(a, a) == pytest.approx(1.0)
    assert cosine(a, b) > 0.5 > cosine(a, c)
    assert cosine(a, Counter()) == 0.0


# ---------------------------------------------------------------- classifier

HOUSING = [
    ("小区电梯故障", "电梯停运物业不修"),
    ("物业费上涨", "物业公司擅自上涨物业费"),
    ("燃气泄漏", "楼道燃气味很浓"),
    ("加装电梯", "老旧小区加装电梯补贴"),
    ("房屋漏水", "商品房墙体开裂渗水开发商不修"),
]
POWER = [
    ("小区停电", "整栋楼突然停电没有通知"),
    ("电费异常", "这个月电费比平时高很多"),
    ("电线断落", "路边电线断落很危险"),
    ("电压不稳", "家里电压不稳灯一闪一闪"),
    ("变压器噪音", "小区变压器嗡嗡响"),
]
EDU = [
    ("孩子入学", "外地户籍孩子上小学需要什么材料"),
    ("校外培训退费", "培训机构不给退学费"),
    ("学校食堂", "学校食堂饭菜质量差"),
    ("学区划分", "小区划入哪个学校的学区"),
    ("幼儿园收费", "民办幼儿园收费太高"),
]


def _data() -> tuple[list[Document], list[str]]:
    docs, labels = [], []
    for label, rows in (("住建", HOUSING), ("供电", POWER), ("教育", EDU)):
        for title, text in rows:
            docs.append(Document(title, text))
            labels.append(label)
    return docs, labels


def test_classifier_ranks_the_right_label_first_and_explains_it() -> None:
    docs, labels = _data()
    model = LinearTextClassifier().fit(docs, labels)
    doc = Document("电梯坏了", "我们小区电梯坏了一周物业不管")
    top = model.top(doc, 3)
    assert top[0].label == "住建"
    assert [p.probability for p in top] == sorted((p.probability for p in top), reverse=True)
    assert sum(p.probability for p in top) == pytest.approx(1.0, abs=1e-6)
    words = model.explain(doc, "住建", 3)
    assert "电梯" in words
    assert model.explain(doc, "不存在的标签") == []


def test_a_saved_model_predicts_the_same_after_loading() -> None:
    docs, labels = _data()
    model = LinearTextClassifier().fit(docs, labels)
    again = loads(dumps(model))
    assert isinstance(again, LinearTextClassifier)
    doc = Document("停电", "小区停电了")
    assert again.top(doc)[0] == model.top(doc)[0]


def test_a_model_saved_before_the_layout_moved_still_loads() -> None:
    """Models in the database name their classes by the module paths of the day they were
    trained (dispatch.classifier, dispatch.text): they load after the upgrade as they are."""
    docs, labels = _data()
    model = LinearTextClassifier().fit(docs, labels)
    # Protocol 2 names each class as "module\nname\n": written as the old code wrote it.
    blob = pickle.dumps(model, protocol=2)
    old = blob.replace(b"cdispatch.routing.classifier\n", b"cdispatch.classifier\n")
    assert old != blob
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(old)  # noqa: S301 - the blob is the test's own
    again = loads(old)
    assert isinstance(again, LinearTextClassifier)
    doc = Document("停电", "小区停电了")
    assert again.top(doc) == model.top(doc)


def test_classifier_refuses_mismatched_input() -> None:
    with pytest.raises(ValueError, match="as many labels"):
        LinearTextClassifier().fit([Document("a")], ["x", "y"])
    with pytest.raises(ValueError, match="fields"):
        LinearTextClassifier(fields="body")  # type: ignore[arg-type]


def test_score_counts_top3_and_per_label() -> None:
    docs, labels = _data()
    model = LinearTextClassifier().fit(docs, labels)
    result = score(model, docs, labels)
    assert result["accuracy"] == 1.0 and result["top3_accuracy"] == 1.0
    assert set(result["per_label_f1"]) == {"住建", "供电", "教育"}
    wrong = score(model, docs, ["教育"] * len(docs))
    assert wrong["accuracy"] == pytest.approx(1 / 3, abs=0.01)


def test_evaluate_reports_every_figure() -> None:
    docs, labels = _data()
    result = evaluate(docs, labels, docs, labels, fields="title", latency_samples=5)
    for key in (
        "accuracy",
        "macro_f1",
        "top3_accuracy",
        "per_label_f1",
        "train_seconds",
        "predict_p50_ms",
        "predict_p99_ms",
    ):
        assert key in result
    assert result["predict_p50_ms"] <= result["predict_p99_ms"]


# ---------------------------------------------------------------- labelled files


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / "data.tsv"
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_read_labelled_tsv(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "id\tlabel\ttitle\ttext\n1\t住建\t电梯故障\t电梯坏了\n2\t教育\t入学\t材料\n"
    )
    docs, labels = read_labelled_tsv(path)
    assert labels == ["住建", "教育"] and docs[0] == Document("电梯故障", "电梯坏了")


@pytest.mark.parametrize(
    ("content", "encoding", "message"),
    [
        ("id\ttitle\ttext\n1\t电梯\t坏了\n", "utf-8", "missing column"),
        ("id\tlabel\ttitle\ttext\n1\t\t电梯\t坏了\n", "utf-8", "empty label"),
        ("id\tlabel\ttitle\ttext\n", "utf-8", "no rows"),
        ("id\tlabel\ttitle\ttext\n1\t住建\t电梯\t坏了\n", "gbk", "not UTF-8"),
    ],
)
def test_bad_labelled_files_say_what_is_wrong(
    tmp_path: Path, content: str, encoding: str, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        read_labelled_tsv(_write(tmp_path, content, encoding))


def test_a_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        read_labelled_tsv(str(tmp_path / "nope.tsv"))


def test_one_draft_at_a_time_scores_exactly_as_a_batch_does() -> None:
    docs, labels = _data()
    model = LinearTextClassifier().fit(docs * 3, labels * 3)  # enough for Platt scaling
    drafts = [
        Document("电梯坏了", "小区电梯坏了一周"),
        Document("停电", ""),
        Document("学校", "x" * 3000),
    ]
    batch = model.predict_proba(drafts)
    for i, draft in enumerate(drafts):
        assert model.predict_proba([draft])[0] == pytest.approx(batch[i], abs=1e-6)

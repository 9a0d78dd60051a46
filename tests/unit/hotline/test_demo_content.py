"""Invariants of the demo catalogue and ticket templates in hotline.demo_content, and how
that module reads them from hotline/demo_data/."""

import dataclasses
import re
import string
from collections import Counter
from importlib import resources

import pytest
import yaml

from hotline import demo_content as dc

CITY_UNIT_NAMES = {
    "住房和城乡建设局": ("department", "城乡建设"),
    "人力资源和社会保障局": ("department", "劳动和社会保障"),
    "教育局": ("department", "教育文体"),
    "商务局": ("department", "商贸旅游"),
    "生态环境局": ("department", "环境保护"),
    "卫生健康委员会": ("department", "卫生计生"),
    "交通运输局": ("department", "交通运输"),
    "公安局": ("department", "治安管理"),
    "市场监督管理局": ("department", "市场监管"),
    "城市管理局": ("department", "城市管理"),
    "水务集团": ("utility", "供水服务"),
    "供电公司": ("utility", "供电服务"),
}

KINDS = {"department", "district", "street", "community", "utility"}
REQUEST_TYPES = {"enquiry", "help", "complaint", "report", "suggestion", "praise"}
URGENCIES = {"critical", "urgent", "normal"}

BY_CODE = {unit.code: unit for unit in dc.UNITS}
CITY_CODES = {unit.code for unit in dc.UNITS if unit.kind in ("department", "utility")}
STREET_CODES = {unit.code for unit in dc.UNITS if unit.kind == "street"}


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_unit_codes_unique_and_ascii() -> None:
    codes = [unit.code for unit in dc.UNITS]
    assert len(codes) == len(set(codes))
    for code in codes:
        assert re.fullmatch(r"[a-z0-9-]+", code), code


def test_unit_fields_valid() -> None:
    for unit in dc.UNITS:
        assert unit.kind in KINDS, unit
        assert unit.name
        assert 8 <= len(unit.keywords) <= 20, unit.code
        assert len(set(unit.keywords)) == len(unit.keywords), unit.code
        assert 2 <= unit.responsibility.count("。") <= 4, unit.code
        assert unit.responsibility.endswith("。"), unit.code
        assert re.fullmatch(r"0710-\d{8}", unit.phone), unit.phone
    phones = [unit.phone for unit in dc.UNITS]
    assert len(phones) == len(set(phones))


def test_parents_exist_and_come_first() -> None:
    seen: set[str] = set()
    expected_parent_kind = {"street": "district", "community": "street"}
    for unit in dc.UNITS:
        if unit.kind in ("department", "utility", "district"):
            assert unit.parent is None, unit.code
        else:
            assert unit.parent in seen, unit.code
            assert BY_CODE[unit.parent].kind == expected_parent_kind[unit.kind], unit.code
            assert unit.code.startswith(unit.parent + "-"), unit.code
        seen.add(unit.code)


def test_city_units_are_exactly_the_catalogue() -> None:
    city = {unit.name: unit.kind for unit in dc.UNITS if unit.code in CITY_CODES}
    assert city == {name: kind for name, (kind, _) in CITY_UNIT_NAMES.items()}


def test_local_hierarchy_shape() -> None:
    districts = [unit for unit in dc.UNITS if unit.kind == "district"]
    assert {unit.name for unit in districts} == {"东湖区", "西山区", "南城区"}
    for district in districts:
        streets = [u for u in dc.UNITS if u.kind == "street" and u.parent == district.code]
        assert 2 <= len(streets) <= 3, district.code
        for street in streets:
            assert street.name.endswith("街道")
            communities = [u for u in dc.UNITS if u.parent == street.code]
            assert 1 <= len(communities) <= 2, street.code
            assert all(u.kind == "community" for u in communities)
            assert all(u.name.endswith("社区") for u in communities)


def test_template_units_and_enums() -> None:
    assert len(dc.TEMPLATES) >= 80
    for tpl in dc.TEMPLATES:
        assert tpl.request_type in REQUEST_TYPES, tpl.title
        assert tpl.urgency in URGENCIES, tpl.title
        if tpl.local:
            assert tpl.unit in STREET_CODES, tpl.title
        else:
            assert tpl.unit in CITY_CODES, tpl.title


def test_template_texts() -> None:
    titles = [tpl.title for tpl in dc.TEMPLATES]
    assert len(titles) == len(set(titles))
    for tpl in dc.TEMPLATES:
        assert 4 <= len(tpl.title) <= 20, tpl.title
        levels = tpl.category.split("/")
        assert len(levels) == 3 and all(levels), tpl.category
        assert "address" in _placeholders(tpl.content), tpl.title
        assert _placeholders(tpl.content) <= {"address", "name"}, tpl.title
        assert 2 <= tpl.content.count("。") <= 5, tpl.title
        filled = tpl.content.format(address="东湖区湖滨街道滨江路88号阳光花园", name="张伟")
        assert "{" not in filled and "}" not in filled


def test_each_city_unit_has_templates_and_matching_category() -> None:
    counts = Counter(tpl.unit for tpl in dc.TEMPLATES if not tpl.local)
    first_levels = {name: level for name, (_, level) in CITY_UNIT_NAMES.items()}
    for code in CITY_CODES:
        assert counts[code] >= 5, code
    for tpl in dc.TEMPLATES:
        if not tpl.local:
            expected = first_levels[BY_CODE[tpl.unit].name]
            assert tpl.category.split("/")[0] == expected, (tpl.title, tpl.category)


def test_local_templates_spread_over_streets() -> None:
    local = [tpl for tpl in dc.TEMPLATES if tpl.local]
    assert len(local) >= 10
    assert {tpl.unit for tpl in local} == STREET_CODES


def test_realistic_mix() -> None:
    types = Counter(tpl.request_type for tpl in dc.TEMPLATES)
    urgencies = Counter(tpl.urgency for tpl in dc.TEMPLATES)
    assert set(types) == REQUEST_TYPES
    assert types["enquiry"] + types["help"] > len(dc.TEMPLATES) / 2
    assert types["complaint"] > max(types["report"], types["suggestion"], types["praise"])
    assert urgencies["normal"] > len(dc.TEMPLATES) * 0.7
    assert 2 <= urgencies["critical"] < urgencies["urgent"]


def test_street_addresses() -> None:
    assert set(dc.STREET_ADDRESSES) == STREET_CODES
    all_addresses = [a for addresses in dc.STREET_ADDRESSES.values() for a in addresses]
    assert len(all_addresses) == len(set(all_addresses))
    for code, addresses in dc.STREET_ADDRESSES.items():
        street = BY_CODE[code]
        district = BY_CODE[street.parent or ""]
        assert 4 <= len(addresses) <= 6, code
        for address in addresses:
            assert address.startswith(district.name + street.name), address


def test_names_and_notes() -> None:
    assert 25 <= len(dc.SURNAMES) <= 40
    assert 30 <= len(dc.GIVEN_NAMES) <= 50
    assert len(set(dc.SURNAMES)) == len(dc.SURNAMES)
    assert len(set(dc.GIVEN_NAMES)) == len(dc.GIVEN_NAMES)
    assert all(len(s) == 1 for s in dc.SURNAMES)
    assert all(1 <= len(g) <= 2 for g in dc.GIVEN_NAMES)
    assert 8 <= len(dc.FOLLOW_UP_NOTES) <= 12
    assert 4 <= len(dc.RETURN_REASONS) <= 6


@pytest.mark.parametrize(
    "texts",
    [dc.FOLLOW_UP_NOTES, dc.RETURN_REASONS, *dc.REPLY_TEXTS.values()],
)
def test_stock_phrases_are_plain_sentences(texts: tuple[str, ...]) -> None:
    for text in texts:
        assert text.endswith("。"), text
        assert "{" not in text and "}" not in text, text


def test_reply_texts_cover_city_units_and_streets() -> None:
    assert set(dc.REPLY_TEXTS) == CITY_CODES | {"street"}
    for code, replies in dc.REPLY_TEXTS.items():
        assert 2 <= len(replies) <= 3, code


# ---------------------------------------------------------------- reading demo_data/


def test_the_data_files_ship_with_the_package() -> None:
    shipped = resources.files("hotline").joinpath(dc.DATA_DIR)
    names = {entry.name for entry in shipped.iterdir() if entry.name.endswith(".yaml")}
    assert names == {"units.yaml", "templates.yaml", "callers.yaml", "phrases.yaml"}


def test_what_is_read_is_immutable_like_the_literals_it_replaced() -> None:
    # Tuples, not YAML's lists: the specs stay hashable and nobody appends to the demo city.
    assert hash(dc.UNITS) and hash(dc.TEMPLATES)
    for texts in (dc.SURNAMES, dc.GIVEN_NAMES, dc.FOLLOW_UP_NOTES, dc.RETURN_REASONS):
        assert type(texts) is tuple
    for mapping in (dc.STREET_ADDRESSES, dc.REPLY_TEXTS):
        assert all(type(texts) is tuple for texts in mapping.values())
    assert all(type(tpl.local) is bool for tpl in dc.TEMPLATES)


def test_local_units_get_their_kinds_text_with_their_name() -> None:
    for kind in ("district", "street", "community"):
        units = [u for u in dc.UNITS if u.kind == kind]
        assert {u.keywords[1:] for u in units} == {units[0].keywords[1:]}, kind
        for unit in units:
            assert unit.keywords[0] == unit.name
            assert unit.responsibility.startswith("负责" + unit.name), unit.code
            assert "{" not in unit.responsibility


SMALL_CITY = """
city_units:
  - {code: zjj, name: 住建局, kind: department, phone: 0710-1, responsibility: 管住房。,
     keywords: [物业]}
local_kinds:
  district: {responsibility: "负责{name}。", keywords: [区政府]}
  street: {responsibility: "街道{name}。", keywords: [占道经营, 噪音]}
  community: {responsibility: "社区{name}。", keywords: [网格员]}
districts:
  - code: dh
    name: 东湖区
    phone: 0710-2
    streets:
      - code: dh-a
        name: 甲街道
        phone: 0710-3
        communities:
          - {code: dh-a-01, name: 一社区, phone: 0710-4}
      - {code: dh-b, name: 乙街道, phone: 0710-5, communities: []}
"""


def test_parse_units_walks_the_hierarchy_in_catalogue_order() -> None:
    units = dc.parse_units(yaml.safe_load(SMALL_CITY))
    assert [(u.code, u.kind, u.parent) for u in units] == [
        ("zjj", "department", None),
        ("dh", "district", None),
        ("dh-a", "street", "dh"),
        ("dh-a-01", "community", "dh-a"),
        ("dh-b", "street", "dh"),
    ]
    street = units[2]
    assert street == dc.UnitSpec(
        "dh-a", "甲街道", "street", "dh", "街道甲街道。", ("甲街道", "占道经营", "噪音"), "0710-3"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # YAML 1.1 reads a bare no as False: the loader must not let a bool become a code.
        (("code: zjj", "code: no"), "city_units[0].code: expected text, got False"),
        (("{code: dh-a-01,", "{code: dh-a-01, nmae: 乙,"), "communities[0]: unknown ['nmae']"),
        (("phone: 0710-4", "fone: 0710-4"), "missing ['phone']"),
        (("keywords: [物业]", "keywords: 物业"), "expected a list"),
        (("  community: ", "  commune: "), "local_kinds: missing ['community']"),
    ],
)
def test_parse_units_rejects_a_file_of_the_wrong_shape(
    change: tuple[str, str], message: str
) -> None:
    assert change[0] in SMALL_CITY
    broken = yaml.safe_load(SMALL_CITY.replace(*change))
    with pytest.raises(dc.DemoDataError, match=re.escape(message)):
        dc.parse_units(broken)


TEMPLATE = {
    "unit": "zjj",
    "request_type": "help",
    "urgency": "normal",
    "category": "城乡建设/燃气管理/燃气安全",
    "title": "楼道燃气味",
    "content": "来电人反映{address}有燃气味。",
}


def test_parse_templates_keeps_order_and_the_local_flag() -> None:
    second = TEMPLATE | {"title": "第二条", "local": True}
    first, parsed = dc.parse_templates([TEMPLATE, second])
    assert dataclasses.asdict(first) == TEMPLATE | {"local": False}
    assert parsed.title == "第二条" and parsed.local is True


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (TEMPLATE | {"locl": True}, "[0]: unknown ['locl']"),
        (TEMPLATE | {"local": "yes please"}, "[0].local: expected true or false"),
        ({k: v for k, v in TEMPLATE.items() if k != "title"}, "[0]: missing ['title']"),
        (TEMPLATE | {"urgency": 1}, "[0].urgency: expected text, got 1"),
    ],
)
def test_parse_templates_rejects_a_template_of_the_wrong_shape(
    record: dict[str, object], message: str
) -> None:
    with pytest.raises(dc.DemoDataError, match=re.escape(message)):
        dc.parse_templates([record])

"""Demo content of the fictional city 江城市, read from the YAML files in demo_data/.

The 派单目录 (dispatch catalogue) of city departments, utilities, districts, streets and
communities (units.yaml), ticket templates in the citizens' voice (templates.yaml),
addresses and caller names (callers.yaml) and the stock phrases units and operators use
(phrases.yaml). Everything is fictional and written for this project; seeding and demo
generators import the names in ``__all__``. The files are read once, on import, and
checked: a value of the wrong type, a missing or an unknown key stops the import with the
file and the place.
"""

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

__all__ = [
    "FOLLOW_UP_NOTES",
    "GIVEN_NAMES",
    "REPLY_TEXTS",
    "RETURN_REASONS",
    "STREET_ADDRESSES",
    "SURNAMES",
    "TEMPLATES",
    "UNITS",
    "TicketTemplate",
    "UnitSpec",
]

DATA_DIR = "demo_data"
# libyaml's parser when PyYAML was built with it: the import is then about ten times faster.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class UnitSpec:
    """One entry of the 派单目录: a unit tickets can be dispatched to."""

    code: str
    name: str
    kind: str  # "department", "district", "street", "community" or "utility"
    parent: str | None
    responsibility: str
    keywords: tuple[str, ...]
    phone: str


@dataclass(frozen=True, slots=True)
class TicketTemplate:
    """A citizen request; ``content`` holds an ``{address}`` (and maybe ``{name}``) slot."""

    unit: str
    request_type: str  # "enquiry", "help", "complaint", "report", "suggestion" or "praise"
    urgency: str  # "critical", "urgent" or "normal"
    category: str  # 事项分类 path, levels joined by "/"
    title: str
    content: str
    local: bool = False  # handled by the street (属地管理) rather than a city unit


class DemoDataError(ValueError):
    """A demo data file does not have the shape this module reads."""


# ---------------------------------------------------------------------------
# Reading and checking
# ---------------------------------------------------------------------------


def read_data(name: str) -> object:
    """Parse one file of demo_data/ (shipped as package data, so any working directory)."""
    text = resources.files("hotline").joinpath(DATA_DIR, name).read_text(encoding="utf-8")
    data: object = yaml.load(text, Loader=_LOADER)
    return data


def _text(value: object, where: str) -> str:
    # YAML reads some bare words as other types (no -> False, 12 -> 12): say where.
    if not isinstance(value, str):
        raise DemoDataError(f"{where}: expected text, got {value!r}")
    return value


def _list(value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        raise DemoDataError(f"{where}: expected a list, got {value!r}")
    return value


def _texts(value: object, where: str) -> tuple[str, ...]:
    return tuple(_text(item, f"{where}[{n}]") for n, item in enumerate(_list(value, where)))


def _fields(
    value: object, where: str, required: frozenset[str], optional: frozenset[str] = frozenset()
) -> dict[str, object]:
    """A mapping with all of ``required`` and maybe some of ``optional``: a typo fails."""
    if not isinstance(value, dict):
        raise DemoDataError(f"{where}: expected a mapping, got {value!r}")
    record = {_text(key, f"{where} key"): item for key, item in value.items()}
    if missing := required - record.keys():
        raise DemoDataError(f"{where}: missing {sorted(missing)}")
    if unknown := record.keys() - required - optional:
        raise DemoDataError(f"{where}: unknown {sorted(unknown)}")
    return record


def _records(value: object, where: str, required: frozenset[str]) -> list[dict[str, object]]:
    return [_fields(item, f"{where}[{n}]", required) for n, item in enumerate(_list(value, where))]


def _text_lists(value: object, where: str) -> dict[str, tuple[str, ...]]:
    """A mapping of text lists, in the file's order."""
    if not isinstance(value, dict):
        raise DemoDataError(f"{where}: expected a mapping, got {value!r}")
    return {_text(key, f"{where} key"): _texts(v, f"{where}.{key}") for key, v in value.items()}


# ---------------------------------------------------------------------------
# 派单目录
# ---------------------------------------------------------------------------

_LOCAL_KINDS = ("district", "street", "community")
_UNIT = frozenset({"code", "name", "phone"})
_CITY_UNIT = _UNIT | {"kind", "responsibility", "keywords"}


def _city_unit(record: dict[str, object], where: str) -> UnitSpec:
    return UnitSpec(
        code=_text(record["code"], f"{where}.code"),
        name=_text(record["name"], f"{where}.name"),
        kind=_text(record["kind"], f"{where}.kind"),
        parent=None,
        responsibility=_text(record["responsibility"], f"{where}.responsibility"),
        keywords=_texts(record["keywords"], f"{where}.keywords"),
        phone=_text(record["phone"], f"{where}.phone"),
    )


def _local_unit(
    record: dict[str, object],
    kind: str,
    parent: str | None,
    kinds: dict[str, dict[str, object]],
    where: str,
) -> UnitSpec:
    """A district, street or community: its kind's responsibility with its name put in, and
    its kind's keywords after its name."""
    name = _text(record["name"], f"{where}.name")
    own = f"{where}: local_kinds.{kind}"
    return UnitSpec(
        code=_text(record["code"], f"{where}.code"),
        name=name,
        kind=kind,
        parent=parent,
        responsibility=_text(kinds[kind]["responsibility"], own).format(name=name),
        keywords=(name, *_texts(kinds[kind]["keywords"], f"{own}.keywords")),
        phone=_text(record["phone"], f"{where}.phone"),
    )


def parse_units(data: object, where: str = "units.yaml") -> tuple[UnitSpec, ...]:
    """The catalogue: the city units, then each district followed by its streets, each
    street followed by its communities."""
    top = _fields(data, where, frozenset({"city_units", "local_kinds", "districts"}))
    listed = _records(top["city_units"], f"{where}: city_units", _CITY_UNIT)
    units = [_city_unit(record, f"{where}: city_units[{n}]") for n, record in enumerate(listed)]
    entry = frozenset({"responsibility", "keywords"})
    by_kind = _fields(top["local_kinds"], f"{where}: local_kinds", frozenset(_LOCAL_KINDS))
    kinds = {k: _fields(v, f"{where}: local_kinds.{k}", entry) for k, v in by_kind.items()}
    at = f"{where}: districts"
    for i, record in enumerate(_records(top["districts"], at, _UNIT | {"streets"})):
        district = _local_unit(record, "district", None, kinds, f"{at}[{i}]")
        units.append(district)
        at_s = f"{at}[{i}].streets"
        for j, s_record in enumerate(_records(record["streets"], at_s, _UNIT | {"communities"})):
            street = _local_unit(s_record, "street", district.code, kinds, f"{at_s}[{j}]")
            units.append(street)
            at_c = f"{at_s}[{j}].communities"
            units += [
                _local_unit(c_record, "community", street.code, kinds, f"{at_c}[{k}]")
                for k, c_record in enumerate(_records(s_record["communities"], at_c, _UNIT))
            ]
    return tuple(units)


# ---------------------------------------------------------------------------
# 工单模板
# ---------------------------------------------------------------------------

_TEMPLATE = frozenset({"unit", "request_type", "urgency", "category", "title", "content"})


def _template(record: dict[str, object], where: str) -> TicketTemplate:
    local = record.get("local", False)
    if not isinstance(local, bool):
        raise DemoDataError(f"{where}.local: expected true or false, got {local!r}")
    return TicketTemplate(
        unit=_text(record["unit"], f"{where}.unit"),
        request_type=_text(record["request_type"], f"{where}.request_type"),
        urgency=_text(record["urgency"], f"{where}.urgency"),
        category=_text(record["category"], f"{where}.category"),
        title=_text(record["title"], f"{where}.title"),
        content=_text(record["content"], f"{where}.content"),
        local=local,
    )


def parse_templates(data: object, where: str = "templates.yaml") -> tuple[TicketTemplate, ...]:
    """The ticket templates, in the file's order (the demo draws from them by position)."""
    return tuple(
        _template(_fields(item, f"{where}[{n}]", _TEMPLATE, frozenset({"local"})), f"{where}[{n}]")
        for n, item in enumerate(_list(data, where))
    )


# ---------------------------------------------------------------------------
# The public names
# ---------------------------------------------------------------------------

UNITS: tuple[UnitSpec, ...] = parse_units(read_data("units.yaml"))
TEMPLATES: tuple[TicketTemplate, ...] = parse_templates(read_data("templates.yaml"))

_callers = _fields(
    read_data("callers.yaml"),
    "callers.yaml",
    frozenset({"street_addresses", "surnames", "given_names"}),
)
STREET_ADDRESSES: dict[str, tuple[str, ...]] = _text_lists(
    _callers["street_addresses"], "callers.yaml: street_addresses"
)
SURNAMES: tuple[str, ...] = _texts(_callers["surnames"], "callers.yaml: surnames")
GIVEN_NAMES: tuple[str, ...] = _texts(_callers["given_names"], "callers.yaml: given_names")

_phrases = _fields(
    read_data("phrases.yaml"),
    "phrases.yaml",
    frozenset({"follow_up_notes", "reply_texts", "return_reasons"}),
)
FOLLOW_UP_NOTES: tuple[str, ...] = _texts(
    _phrases["follow_up_notes"], "phrases.yaml: follow_up_notes"
)
REPLY_TEXTS: dict[str, tuple[str, ...]] = _text_lists(
    _phrases["reply_texts"], "phrases.yaml: reply_texts"
)
RETURN_REASONS: tuple[str, ...] = _texts(_phrases["return_reasons"], "phrases.yaml: return_reasons")

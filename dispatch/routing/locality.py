"""Locality (属地) extraction: which district, street and community a request is about.

A gazetteer built from the configured unit tree: each district, street and community by its
full name ("湖滨街道") and its short name ("湖滨"), plus the roads and estates each unit lists
as its places ("滨江路", "阳光花园"). The address is read before the text and counts double;
the answer is the one branch of the tree (district → street → community) that the most
evidence agrees on, so "东湖区…滨江路" does not end up in another district's street.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field

from kernel.units import UnitKind

_SUFFIXES = {
    UnitKind.DISTRICT: ("新区", "区", "县", "市"),
    UnitKind.STREET: ("街道办事处", "街道办", "街道", "镇", "乡"),
    UnitKind.COMMUNITY: ("社区居委会", "社区", "村委会", "村"),
}
# Weights of the kinds of evidence: a full name is surest, a short name least.
FULL_NAME, PLACE, SHORT_NAME = 3.0, 2.0, 1.0
ADDRESS_FACTOR = 2.0
LOCAL_KINDS = (UnitKind.DISTRICT, UnitKind.STREET, UnitKind.COMMUNITY)


@dataclass(frozen=True, slots=True)
class PlaceUnit:
    """What the gazetteer needs of a unit."""

    id: int
    name: str
    kind: UnitKind
    parent_id: int | None
    places: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    text: str
    unit_id: int
    weight: float
    in_address: bool


@dataclass(frozen=True, slots=True)
class Locality:
    """District → street → community, each None when not found."""

    district_id: int | None = None
    street_id: int | None = None
    community_id: int | None = None
    evidence: tuple[str, ...] = field(default=())

    @property
    def found(self) -> bool:
        return self.district_id is not None

    @property
    def most_local_id(self) -> int | None:
        return self.community_id or self.street_id or self.district_id


def short_name(name: str, kind: UnitKind) -> str | None:
    """Return the name without its administrative suffix, when two characters or more remain."""
    for suffix in _SUFFIXES.get(kind, ()):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


class Gazetteer:
    """Find the units of the locality tree named in an address or a text."""

    def __init__(self, units: Iterable[PlaceUnit]) -> None:
        self.units = {u.id: u for u in units if u.kind in LOCAL_KINDS}
        entries: dict[str, tuple[int, float]] = {}

        def add(term: str, unit_id: int, weight: float) -> None:
            term = term.strip()
            if len(term) < 2:
                return
            known = entries.get(term)
            # A term two units share (a short name twice over) says nothing: drop it.
            if known is not None and known[0] != unit_id:
                if known[1] <= weight:
                    entries[term] = (-1, max(known[1], weight))
                return
            entries[term] = (unit_id, weight)

        for unit in self.units.values():
            add(unit.name, unit.id, FULL_NAME)
            for place in unit.places:
                add(place, unit.id, PLACE)
        for unit in self.units.values():
            short = short_name(unit.name, unit.kind)
            if short and short not in entries:
                add(short, unit.id, SHORT_NAME)
        self._entries = {k: v for k, v in entries.items() if v[0] != -1}
        terms = sorted(self._entries, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, terms))) if terms else None

    def matches(self, text: str | None, *, in_address: bool = False) -> list[Match]:
        if not text or self._pattern is None:
            return []
        out = []
        for m in self._pattern.finditer(text):
            unit_id, weight = self._entries[m.group(0)]
            if in_address:
                weight *= ADDRESS_FACTOR
            out.append(Match(m.group(0), unit_id, weight, in_address))
        return out

    def _path(self, unit_id: int) -> list[int]:
        path = []
        node: PlaceUnit | None = self.units.get(unit_id)
        while node is not None:
            path.append(node.id)
            node = self.units.get(node.parent_id) if node.parent_id else None
        return path

    def extract(self, address: str | None, text: str | None = None) -> Locality:
        """Return the locality the address and text agree on best."""
        found = self.matches(address, in_address=True) + self.matches(text)
        if not found:
            return Locality()
        support: dict[int, float] = {}
        for match in found:
            support[match.unit_id] = support.get(match.unit_id, 0.0) + match.weight
        best_path: list[int] = []
        best_key = (0.0, 0)
        for unit_id in support:
            path = self._path(unit_id)
            key = (sum(support.get(u, 0.0) for u in path), len(path))
            if key > best_key:
                best_key, best_path = key, path
        levels: dict[UnitKind, int] = {}
        for unit_id in best_path:
            levels[self.units[unit_id].kind] = unit_id
        evidence = tuple(dict.fromkeys(m.text for m in found if m.unit_id in best_path))
        return Locality(
            district_id=levels.get(UnitKind.DISTRICT),
            street_id=levels.get(UnitKind.STREET),
            community_id=levels.get(UnitKind.COMMUNITY),
            evidence=evidence,
        )

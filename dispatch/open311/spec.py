"""Open311 GeoReport v2: the spec's documents, formats, statuses, filters and errors.

Pure: values in, bytes or values out. The routes are in `dispatch.open311.web`; the spec is
http://wiki.open311.org/GeoReport_v2. XML follows the spec's element names; JSON is the same
tree by the Spark convention (a list for every plural element). Every text is UTF-8, every
XML document starts with its declaration, and every time is W3C (ISO 8601 with an offset).
"""

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from dispatch.tickets.domain import TicketStatus
from dispatch.webform.intake import CLOSED_STATUSES
from kernel.masking import mask_free_text

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
MIME_TYPES = {"xml": "text/xml", "json": "application/json"}
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# Plural elements and the name of each of their items (the spec's ⇊ and ↴).
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
# Open311 knows two states: a request is closed once nobody owes the citizen more work.
OPEN311_STATUS: Mapping[TicketStatus, str] = {
    s: "closed" if s in CLOSED_STATUSES else "open" for s in TicketStatus
}
STATUSES = ("open", "closed")
MAX_IDS = 100  # service_request_id values in one GET requests


# ---------------------------------------------------------------- errors


class Open311Error(Exception):
    """An answer in the spec's error format: one HTTP status, one or more errors."""

    def __init__(
        self,
        status: int,
        errors: str | Sequence[str],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.descriptions = [errors] if isinstance(errors, str) else list(errors)
        self.headers = dict(headers or {})
        super().__init__("; ".join(self.descriptions))

    def items(self) -> list[dict[str, Any]]:
        return [{"code": self.status, "description": d} for d in self.descriptions]


def bad_request(errors: str | Sequence[str]) -> Open311Error:
    return Open311Error(400, errors)


def forbidden(description: str) -> Open311Error:
    return Open311Error(403, description)


def not_found(description: str) -> Open311Error:
    return Open311Error(404, description)


def too_many(retry_after: int) -> Open311Error:
    return Open311Error(
        429,
        f"请求过于频繁，已超过每分钟限额，请 {retry_after} 秒后重试",
        headers={"Retry-After": str(retry_after)},
    )


# ---------------------------------------------------------------- formats


def response_format(ext: str | None) -> str | None:
    """'json' or 'xml' for the resource's extension; None for anything else."""
    return ext if ext in CONTENT_TYPES else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _element(parent: ET.Element, name: str, value: Any) -> None:
    child = ET.SubElement(parent, name)
    _fill(child, name, value)


def _fill(node: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _element(node, key, item)
    elif isinstance(value, list | tuple):
        item_name = ITEMS.get(name, "item")
        for item in value:
            _element(node, item_name, item)
    else:
        node.text = _text(value)


def to_xml(root: str, value: Any) -> bytes:
    """One document: the declaration, then `root` holding `value` (lists by ITEMS)."""
    node = ET.Element(root)
    _fill(node, root, value)
    return XML_DECLARATION + ET.tostring(node, encoding="unicode").encode("utf-8")


def to_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def render(fmt: str, root: str, value: Any) -> bytes:
    """`value` as the document `root` (XML) or as itself (JSON)."""
    return to_xml(root, value) if fmt == "xml" else to_json(value)


def render_errors(fmt: str, error: Open311Error) -> bytes:
    return render(fmt, "errors", error.items())


# ---------------------------------------------------------------- documents


@dataclass(frozen=True, slots=True)
class Service:
    """One service type: a matter category of the dispatch catalogue."""

    code: str
    path: str
    keywords: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def group(self) -> str:
        return self.path.split("/", 1)[0]


def service_item(service: Service) -> dict[str, Any]:
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.path,
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join(service.keywords),
        "group": service.group,
    }


def service_definition(service: Service) -> dict[str, Any]:
    """The definition of a service without extra fields: its code and no attributes."""
    return {"service_code": service.code, "attributes": []}


def created_item(number: str, notice: str) -> dict[str, Any]:
    """One entry of POST requests' answer (realtime: the id, never a token)."""
    return {"service_request_id": number, "service_notice": notice, "account_id": None}


def discovery(url: str, changeset: dt.datetime, contact: str, key_service: str) -> dict[str, Any]:
    return {
        "changeset": w3c(changeset),
        "contact": contact,
        "key_service": key_service,
        "endpoints": [
            {
                "specification": SPEC_URL,
                "url": url,
                "changeset": w3c(changeset),
                "type": "production",
                "formats": [MIME_TYPES["xml"], MIME_TYPES["json"]],
            }
        ],
    }


def w3c(moment: dt.datetime, tz: dt.tzinfo = dt.UTC) -> str:
    """2026-11-16T10:00:00+08:00: seconds precision, always with an offset."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(tz).replace(microsecond=0).isoformat()


def _w3c_text(iso: str | None, tz: dt.tzinfo) -> str | None:
    return w3c(dt.datetime.fromisoformat(iso), tz) if iso else None


_EMAIL_NOTE = re.compile(r"\n\n联系邮箱：\S*\s*$")


def public_description(text: str) -> str:
    """The description without the contact e-mail the intake appends for the hotline."""
    return _EMAIL_NOTE.sub("", text)


def service_notice(agency: str | None, expected: str | None) -> str:
    if agency and expected:
        return f"热线已受理，已交{agency}办理，预计{expected[:16].replace('T', ' ')}前答复"
    if agency:
        return f"热线已受理，已交{agency}办理"
    return "热线已受理，正在分派承办单位，请凭工单号查询办理进度"


# Published pins are rounded to 0.01° (about 1 km): the neighbourhood, not the door.
PIN_DECIMALS = 2
# The address up to its street (the first road, street or lane named), nothing after it.
_STREET = re.compile(r"^.*?(?:街道|大街|大道|路|街|巷|胡同|弄)")


def street_level(address: str | None) -> str | None:
    """The address cut after its street: 东湖区滨江路阳光花园3号楼 → 东湖区滨江路.

    No street named (阳光花园3号楼) publishes no address: what would remain is a building.
    """
    match = _STREET.match((address or "").strip())
    return match.group(0) if match else None


def coarse(value: float | None) -> float | None:
    return round(value, PIN_DECIMALS) if value is not None else None


def published_view(view: Mapping[str, Any], names: Iterable[str | None]) -> dict[str, Any]:
    """What of `intake.public_view` Open311 publishes for a citizen who agreed to it.

    Personal data inside the description is masked (`names`: the citizen's), the address
    stops at the street and the pin is rounded (PIN_DECIMALS).
    """
    description = public_description(view.get("description") or "")
    return {
        **view,
        "description": mask_free_text(description, names),
        "address": street_level(view.get("address")),
        "latitude": coarse(view.get("latitude")),
        "longitude": coarse(view.get("longitude")),
    }


def request_item(
    view: Mapping[str, Any],
    service: Service | None,
    media_url: str | None,
    tz: dt.tzinfo,
) -> dict[str, Any]:
    """One service request from `intake.public_view`: the spec's fields, in its order.

    Never a name, phone or e-mail: the view has none, and the e-mail note is cut off.
    """
    category = view.get("category")
    expected = _w3c_text(view.get("expected_at"), tz)
    return {
        "service_request_id": view["number"],
        "status": "closed" if view["closed"] else "open",
        "status_notes": view.get("status_notes"),
        "service_name": service.name if service else (category or "").rsplit("/", 1)[-1] or None,
        "service_code": service.code if service else None,
        "description": public_description(view.get("description") or ""),
        "agency_responsible": view.get("agency_responsible"),
        "service_notice": None
        if view["closed"]
        else service_notice(view.get("agency_responsible"), expected),
        "requested_datetime": _w3c_text(view["created_at"], tz),
        "updated_datetime": _w3c_text(view["updated_at"], tz),
        "expected_datetime": expected,
        "address": view.get("address"),
        "address_id": None,
        "zipcode": None,
        "lat": view.get("latitude"),
        "long": view.get("longitude"),
        "media_url": media_url,
    }


# ---------------------------------------------------------------- query filters


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """GET requests' filters. `numbers`, when given, override all the others (the spec)."""

    start: dt.datetime
    end: dt.datetime
    numbers: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: frozenset[TicketStatus] = field(default_factory=frozenset)


def _split(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def parse_datetime(raw: str, name: str) -> dt.datetime | str:
    """The W3C date-time, or the message saying what is wrong with it."""
    try:
        moment = dt.datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError:
        return f"{name} 不是合法的 ISO 8601 时间，例如 2026-11-16T10:00:00+08:00"
    if moment.tzinfo is None or "T" not in raw:
        return f"{name} 须含时间和时区（Z 或 +08:00），例如 2026-11-16T10:00:00+08:00"
    return moment


def statuses_for(names: Iterable[str]) -> frozenset[TicketStatus]:
    wanted = set(names)
    return frozenset(s for s, name in OPEN311_STATUS.items() if name in wanted)


def parse_request_query(
    args: Mapping[str, str], now: dt.datetime, default_days: int
) -> RequestQuery:
    """Read GET requests' arguments; every wrong one is its own error.

    Without dates the window is the last `default_days` days; with one date it runs that
    many days from (or to) it; a window may not be longer.

    :raises Open311Error: 400 listing every bad argument.
    """
    errors: list[str] = []
    numbers = _split(args.get("service_request_id"))
    if len(numbers) > MAX_IDS:
        errors.append(f"service_request_id 一次最多 {MAX_IDS} 个")
    statuses = _split(args.get("status"))
    wrong = [s for s in statuses if s not in STATUSES]
    if wrong:
        errors.append(f"status 只能是 open 或 closed（逗号分隔），收到：{','.join(wrong)}")
    bounds: dict[str, dt.datetime | None] = {}
    for name in ("start_date", "end_date"):
        raw = (args.get(name) or "").strip()
        parsed = parse_datetime(raw, name) if raw else None
        if isinstance(parsed, str):
            errors.append(parsed)
            parsed = None
        bounds[name] = parsed
    span = dt.timedelta(days=default_days)
    start, end = bounds["start_date"], bounds["end_date"]
    if start is not None and end is not None:
        if end < start:
            errors.append("end_date 不能早于 start_date")
        elif end - start > span:
            errors.append(f"start_date 与 end_date 相隔不能超过 {default_days} 天")
    if errors:
        raise bad_request(errors)
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - span
    if end is None:
        end = start + span
    return RequestQuery(
        start=start,
        end=end,
        numbers=tuple(dict.fromkeys(numbers)),
        service_codes=tuple(_split(args.get("service_code"))),
        statuses=statuses_for(statuses),
    )


_NUMBER = re.compile(r"^\D{0,16}\d{8}(?P<id>\d{7,12})$")


def ticket_id_of(number: str) -> int | None:
    """The ticket id inside a 工单号 (prefix, local date, zero-padded id); None if not one.

    The caller still checks that the whole number is that ticket's.
    """
    match = _NUMBER.match(number.strip())
    return int(match["id"]) if match else None


# ---------------------------------------------------------------- POST requests


@dataclass(frozen=True, slots=True)
class NewRequest:
    """POST requests' fields, checked; the service code is not looked up yet."""

    service_code: str
    description: str
    latitude: float | None
    longitude: float | None
    address: str | None
    email: str | None
    name: str | None
    phone: str | None
    publish: bool = False  # the citizen agreed to publish (`publish=true`)


# `publish`: the citizen's consent to publication, asked by the client; absent means no.
_CONSENT = {"": False, "false": False, "0": False, "true": True, "1": True}


def _float(raw: str, name: str, limit: float, errors: list[str]) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        errors.append(f"{name} 须为十进制度数（WGS84），收到：{raw[:30]}")
        return None
    if not -limit <= value <= limit:  # also refuses nan
        errors.append(f"{name} 须在 -{limit:g} 到 {limit:g} 之间")
        return None
    return value


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def full_name(first: str, last: str) -> str | None:
    """张 + 三 → 张三 (family name first in Chinese); john + smith → john smith."""
    first, last = first.strip(), last.strip()
    if not first or not last:
        return first or last or None
    return f"{last}{first}" if _has_cjk(first + last) else f"{first} {last}"


def parse_new_request(form: Mapping[str, str]) -> NewRequest:
    """Check POST requests' form; every wrong or missing field is its own error.

    device_id, account_id, media_url and attribute[...] are accepted and not kept.

    :raises Open311Error: 400 listing every problem.
    """
    errors: list[str] = []

    def text(name: str) -> str:
        return (form.get(name) or "").strip()

    code = text("service_code")
    if not code:
        errors.append("缺少 service_code（服务类型代码，见 services 接口）")
    description = text("description")
    if not description:
        errors.append("缺少 description（诉求描述）")
    elif len(description) < 5:
        errors.append("description 太短，请至少写 5 个字说明问题")
    elif len(description) > 4000:
        errors.append("description 不能超过 4000 个字符")
    lat_raw, long_raw, address = text("lat"), text("long"), text("address_string")
    lat = long = None
    if lat_raw or long_raw:
        if not (lat_raw and long_raw):
            errors.append("lat 和 long 须同时提供")
        else:
            lat = _float(lat_raw, "lat", 90, errors)
            long = _float(long_raw, "long", 180, errors)
    elif not address:
        errors.append("缺少位置：请提供 lat 和 long，或 address_string")
    if len(address) > 300:
        errors.append("address_string 不能超过 300 个字符")
    publish = text("publish").lower()
    if publish not in _CONSENT:
        errors.append("publish 只能是 true 或 false（市民是否同意公开其诉求）")
    if errors:
        raise bad_request(errors)
    return NewRequest(
        service_code=code,
        description=description,
        latitude=lat,
        longitude=long,
        address=address or None,
        email=text("email") or None,
        name=full_name(text("first_name"), text("last_name")),
        phone=text("phone") or None,
        publish=_CONSENT.get(publish, False),
    )

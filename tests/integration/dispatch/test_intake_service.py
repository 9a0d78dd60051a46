"""Outside requests (web form, Open311) become routed tickets with a private status link."""

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from dispatch.tickets.domain import Channel
from dispatch.tickets.models import Attachment
from dispatch.tickets.models import Ticket
from dispatch.webform import intake
from hotline.bootstrap import Container
from kernel.errors import NotFound
from kernel.errors import ValidationError
from tests.conftest import Api


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 200, 30)).save(out, format="PNG")
    return out.getvalue()


def _submit(container: Container, req: intake.PublicRequest, photo: intake.Photo | None = None):
    return intake.submit(
        container.uow(),
        container.dispatch,
        container.assistant,
        container.attachments,
        req,
        channel=Channel.WEB,
        actor_name="网上诉求",
        photo=photo,
    )


def test_a_public_request_becomes_a_ticket_with_its_photo_pin_and_token(
    container: Container, api: Api
) -> None:
    req = intake.PublicRequest(
        description="幸福路12号门口路灯不亮已经一周了，晚上很黑",
        address="幸福路12号",
        latitude=31.23,
        longitude=121.47,
        phone="13800138000",
    )
    done = _submit(container, req, intake.Photo("路灯.png", _png()))
    assert done.number.startswith("JC") and len(done.token) >= 32
    with container.uow() as uow:
        t = uow.session.get(Ticket, done.ticket_id)
        assert t is not None
        assert (t.channel, t.public_token, t.latitude, t.longitude) == (
            Channel.WEB,
            done.token,
            31.23,
            121.47,
        )
        assert t.anonymous and t.caller_phone == "13800138000"
        assert t.title == "幸福路12号门口路灯不亮已经一周了，晚上很黑"
        photos = uow.session.scalars(sa.select(Attachment).where(Attachment.ticket_id == t.id))
        assert [p.content_type for p in photos] == ["image/png"]
        found = intake.find_by_token(uow.session, container.dispatch, done.number, done.token)
        view = intake.public_view(uow.session, container.dispatch, found)
    assert view["number"] == done.number and len(view["photo_ids"]) == 1
    assert "13800138000" not in str(view)
    # The hotline sees it like any other ticket.
    assert api.get(f"/api/tickets/{done.ticket_id}", as_="operator").get_json()["channel"] == "web"


def test_a_broken_photo_or_a_pdf_leaves_no_ticket_behind(container: Container) -> None:
    req = intake.PublicRequest(description="小区垃圾三天没人清运了")
    with container.uow() as uow:
        before = uow.session.scalar(sa.select(sa.func.count()).select_from(Ticket))
    for photo in (
        intake.Photo("a.png", _png()[:40]),
        intake.Photo("a.pdf", b"%PDF-1.4 hello"),
        intake.Photo("a.png", b""),
    ):
        with pytest.raises(ValidationError) as err:
            _submit(container, req, photo)
        assert "file" in err.value.field_errors
    with container.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == before


def test_the_status_link_needs_the_right_number_and_token(container: Container) -> None:
    done = _submit(container, intake.PublicRequest(description="公交站牌被撞倒了"))
    with container.uow() as uow:
        for number, token in (
            (done.number, "x" * 32),
            (done.number[:-1] + "9", done.token),
            (done.number, ""),
        ):
            with pytest.raises(NotFound):
                intake.find_by_token(uow.session, container.dispatch, number, token)


def test_a_pin_needs_both_coordinates() -> None:
    with pytest.raises(ValueError, match="经纬度"):
        intake.PublicRequest(description="路面塌陷有个大坑", latitude=30.0)

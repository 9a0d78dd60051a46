"""Attachments on tickets: who may add and read them, and what a file must be.

Accepted: JPEG and PNG photos (checked to be whole images), PDF, DOCX and XLSX, up to
`attachments.max_bytes`. The type comes from the bytes, not from the name the browser sends.
"""

import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch.adapters.files import FileStore
from dispatch.domain import HOTLINE_ROLES
from dispatch.domain import NotFound
from dispatch.domain import PermissionDenied
from dispatch.domain import Role
from dispatch.domain import ValidationError
from dispatch.models import Attachment
from dispatch.models import Ticket
from dispatch.services import Actor
from dispatch.services import check_can_read
from dispatch.services import lead_unit_ids
from hotline.audit import audit_act
from hotline.db import UnitOfWork
from hotline.db import utcnow

OOXML = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True, slots=True)
class AttachmentPolicy:
    store: FileStore
    max_bytes: int = 10 * 1024 * 1024


def _content_type(filename: str, data: bytes) -> str:
    """Return the MIME type the bytes really are, or raise ValidationError."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff"):
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as img:
                img.verify()
                kind = img.format
        except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for broken files
            raise ValidationError({"file": "图片已损坏或不完整"}, "附件无法接收") from exc
        return "image/png" if kind == "PNG" else "image/jpeg"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    suffix = Path(filename).suffix.lower()
    if data.startswith(b"PK\x03\x04") and suffix in OOXML:
        return OOXML[suffix]
    raise ValidationError(
        {"file": "只接受 JPG、PNG 图片和 PDF、DOCX、XLSX 文件"}, "附件类型不受支持"
    )


def _clean_name(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return (name or "附件")[-200:]


def view(a: Attachment) -> dict[str, Any]:
    return {
        "id": a.id,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "unit_id": a.unit_id,
        "uploaded_by_id": a.uploaded_by_id,
        "created_at": a.created_at.isoformat(),
        "url": f"/api/tickets/{a.ticket_id}/attachments/{a.id}",
    }


def check_file(policy: AttachmentPolicy, filename: str, data: bytes) -> str:
    """Return the file's real MIME type, or raise ValidationError (empty, too big, wrong kind).

    :raises ValidationError: on the field "file".
    """
    if not data:
        raise ValidationError({"file": "文件为空"}, "附件无法接收")
    if len(data) > policy.max_bytes:
        raise ValidationError(
            {"file": f"文件不能超过 {policy.max_bytes // (1024 * 1024)} MB"}, "附件过大"
        )
    return _content_type(filename, data)


def new_attachment(
    policy: AttachmentPolicy,
    ticket_id: int,
    filename: str,
    data: bytes,
    content_type: str,
    *,
    uploaded_by_id: int | None = None,
    unit_id: int | None = None,
) -> Attachment:
    """Store the bytes (by SHA-256, so a retry stores nothing twice) and return the new row."""
    return Attachment(
        ticket_id=ticket_id,
        uploaded_by_id=uploaded_by_id,
        unit_id=unit_id,
        filename=_clean_name(filename),
        content_type=content_type,
        size=len(data),
        sha256=policy.store.put(data),
        created_at=utcnow(),
    )


def add_attachment(
    uow: UnitOfWork,
    policy: AttachmentPolicy,
    actor: Actor,
    ticket_id: int,
    filename: str,
    data: bytes,
) -> dict[str, Any]:
    """Attach a file to a ticket: the hotline at any time, a liaison of the lead unit.

    :raises NotFound: no such ticket.
    :raises PermissionDenied: the actor may not add files to this ticket.
    :raises ValidationError: empty, too large, or not an accepted kind of file.
    """
    content_type = check_file(policy, filename, data)
    with uow:
        ticket = uow.session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound("工单不存在", {"ticket_id": ticket_id})
        allowed = actor.role in HOTLINE_ROLES or (
            actor.role is Role.LIAISON and actor.unit_id in lead_unit_ids(ticket)
        )
        if not allowed:
            raise PermissionDenied("无权为该工单上传附件", {"ticket_id": ticket_id})
        row = new_attachment(
            policy,
            ticket_id,
            filename,
            data,
            content_type,
            uploaded_by_id=actor.user_id,
            unit_id=actor.unit_id if actor.role is Role.LIAISON else None,
        )
        uow.session.add(row)
        uow.commit()
        return view(row)


def open_attachment(
    uow: UnitOfWork, policy: AttachmentPolicy, actor: Actor, ticket_id: int, attachment_id: int
) -> tuple[dict[str, Any], Path]:
    """Return an attachment's metadata and file path, if the actor may read the ticket.

    :raises NotFound: no such ticket or attachment.
    :raises PermissionDenied: the actor may not read this ticket.
    """
    with uow:
        ticket = uow.session.get(Ticket, ticket_id)
        row = uow.session.get(Attachment, attachment_id)
        if ticket is None or row is None or row.ticket_id != ticket_id:
            raise NotFound("附件不存在", {"attachment_id": attachment_id})
        check_can_read(actor, ticket)
        audit_act(
            uow.session,
            actor,
            "download_attachment",
            ticket_id,
            {"attachment_id": attachment_id},
        )
        uow.commit()
        return view(row), policy.store.path(row.sha256)

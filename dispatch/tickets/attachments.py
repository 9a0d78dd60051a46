"""Attachments on tickets: who may add and read them, and what a file must be.

Accepted: JPEG and PNG photos (checked to be whole images), PDF, DOCX and XLSX, up to
`attachments.max_bytes`. The type comes from the bytes, not from the name the browser sends;
a .docx/.xlsx must be a real Word/Excel package of bounded unpacked size (infra.ooxml).
"""

import io
import logging
import unicodedata
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dispatch.tickets import commands as c
from dispatch.tickets.actions import perform_action
from dispatch.tickets.context import DispatchContext
from dispatch.tickets.context import lead_unit_ids
from dispatch.tickets.domain import Action
from dispatch.tickets.idempotency import Once
from dispatch.tickets.models import Attachment
from dispatch.tickets.models import Ticket
from dispatch.tickets.reads import check_can_read
from infra.audit import audit_act
from infra.commands import Command
from infra.db import UnitOfWork
from infra.db import utcnow
from infra.files import FileStore
from infra.ooxml import NotAPackage
from infra.ooxml import check_package
from kernel.actor import Actor
from kernel.errors import NotFound
from kernel.errors import PermissionDenied
from kernel.errors import ValidationError
from kernel.roles import HOTLINE_ROLES
from kernel.roles import Role

log = logging.getLogger(__name__)

MAX_FILES = 10  # files one reply may carry

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
        try:
            check_package(data, suffix)  # any zip starts with PK: look inside
        except NotAPackage as exc:
            raise ValidationError({"file": exc.message}, "附件无法接收") from None
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


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as it arrived: the name the browser sent and the bytes."""

    filename: str
    data: bytes


@dataclass(slots=True)
class FileBatch:
    """The files one transaction stores: those it wrote are removed again if it fails.

    Files are stored by content before the rows that name them are committed; a refused
    transaction must leave no file behind that no attachment refers to.
    """

    policy: AttachmentPolicy
    written: list[str] = field(default_factory=list)

    def put(self, data: bytes) -> str:
        digest, new = self.policy.store.put_new(data)
        if new:
            self.written.append(digest)
        return digest

    def undo(self, session_factory: Callable[[], Session]) -> None:
        """Remove the files this batch wrote that no committed attachment refers to."""
        if not self.written:
            return
        try:
            with session_factory() as session:
                kept = set(
                    session.scalars(
                        sa.select(Attachment.sha256).where(Attachment.sha256.in_(self.written))
                    )
                )
        except Exception:  # noqa: BLE001 - keep the files rather than lose a referenced one
            log.exception("could not check the stored files of a failed transaction")
            return
        for digest in self.written:
            if digest not in kept:
                self.policy.store.discard(digest)
        self.written = []


@contextmanager
def file_batch(policy: AttachmentPolicy, uow: UnitOfWork) -> Iterator[FileBatch]:
    """Store files for one transaction; on any failure remove those nothing refers to."""
    batch = FileBatch(policy)
    try:
        yield batch
    except BaseException:
        batch.undo(uow.new_session)
        raise


def new_attachment(
    store: AttachmentPolicy | FileBatch,
    ticket_id: int,
    filename: str,
    data: bytes,
    content_type: str,
    *,
    uploaded_by_id: int | None = None,
    unit_id: int | None = None,
) -> Attachment:
    """Store the bytes (by SHA-256, so a retry stores nothing twice) and return the new row."""
    digest = store.put(data) if isinstance(store, FileBatch) else store.store.put(data)
    return Attachment(
        ticket_id=ticket_id,
        uploaded_by_id=uploaded_by_id,
        unit_id=unit_id,
        filename=_clean_name(filename),
        content_type=content_type,
        size=len(data),
        sha256=digest,
        created_at=utcnow(),
    )


def check_files(policy: AttachmentPolicy, uploads: list[Upload]) -> list[str]:
    """Check every file before anything is stored; return their MIME types.

    :raises ValidationError: on the field "file", naming each file that is refused.
    """
    if len(uploads) > MAX_FILES:
        raise ValidationError({"file": f"一次最多上传 {MAX_FILES} 个文件"}, "附件过多")
    types, problems = [], []
    for upload in uploads:
        try:
            types.append(check_file(policy, upload.filename, upload.data))
        except ValidationError as exc:
            reason = exc.field_errors.get("file", exc.message)
            problems.append(f"{_clean_name(upload.filename)}：{reason}")
    if problems:
        raise ValidationError({"file": "；".join(problems)}, "附件无法接收，回复未提交")
    return types


def reply_with_files(
    uow: UnitOfWork,
    ctx: DispatchContext,
    policy: AttachmentPolicy,
    actor: Actor,
    ticket_id: int,
    cmd: c.Reply,
    uploads: list[Upload],
    once: Once | None = None,
) -> dict[str, Any]:
    """回复 with its files: the reply and its files are written together, or neither.

    A refused reply (empty text, wrong status, a bad file) keeps no file, so trying again
    does not attach them twice. A retry with the same idempotency key (`once`) answers the
    first reply and stores nothing.

    :raises ValidationError: a file is refused, or the reply itself is.
    :raises PermissionDenied, IllegalTransition, RuleViolation: as `perform_action`.
    """
    types = check_files(policy, uploads)
    with file_batch(policy, uow) as batch:

        def attach(session: Session, ticket: Ticket) -> Command:
            rows = [
                new_attachment(
                    batch,
                    ticket.id,
                    upload.filename,
                    upload.data,
                    content_type,
                    uploaded_by_id=actor.user_id,
                    unit_id=actor.unit_id if actor.role is Role.LIAISON else None,
                )
                for upload, content_type in zip(uploads, types, strict=True)
            ]
            ticket.attachments.extend(rows)  # the reply's view lists them
            session.flush()
            ids = [*cmd.attachment_ids, *(row.id for row in rows)]
            return cmd.model_copy(update={"attachment_ids": ids})

        return perform_action(
            uow,
            ctx,
            actor,
            ticket_id,
            Action.REPLY,
            cmd,
            before=attach if uploads else None,
            once=once,
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

"""The audit log: every view of unmasked personal data and every sensitive change."""

from typing import Any

from sqlalchemy.orm import Session

from hotline.db import utcnow


def record_audit(
    session: Session,
    user_id: int | None,
    action: str,
    ticket_id: int | None,
    details: dict[str, Any],
    *,
    ip: str | None = None,
    request_id: str | None = None,
) -> None:
    """Add an audit row to the caller's transaction; it is written when that commits."""
    from hotline.models import AuditEntry

    session.add(
        AuditEntry(
            at=utcnow(),
            user_id=user_id,
            action=action,
            ticket_id=ticket_id,
            details=details,
            ip=ip,
            request_id=request_id,
        )
    )

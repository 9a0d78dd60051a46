"""Learning from the hotline's own decisions: training data, retraining, model versions.

Every ticket a unit kept (it signed for it, or the hotline insisted) is an example of where
such a ticket goes; a ticket that came back and was reassigned is a correction, and counts
double. Tickets whose id ends in 0 are never trained on: they are the held-back slice every
version is scored on, so an old and a new model are compared on text neither has seen.
A new version goes live only if its routing macro-F1 on that slice is at least the live
one's; refused versions are kept with their scores, for the admins to see.
"""

import datetime as dt
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm import undefer

from dispatch.routing.classifier import dumps
from dispatch.routing.classifier import loads
from dispatch.routing.models import RoutingModel
from dispatch.routing.router import Catalogue
from dispatch.routing.router import Example
from dispatch.routing.router import RoutingBundle
from dispatch.routing.router import catalogue_examples
from dispatch.routing.router import load_catalogue
from dispatch.tickets.domain import TicketStatus
from dispatch.tickets.models import Ticket
from infra.db import UnitOfWork
from infra.text import Document

log = logging.getLogger(__name__)

HOLDOUT_MODULUS = 10
CORRECTION_WEIGHT = 2.0
# The routing target's macro-F1 on the held-back slice decides whether a version goes live.
GATE_TASK, GATE_METRIC = "target", "macro_f1"
# A ticket still waiting for the unit's decision is not yet a confirmed dispatch.
_UNCONFIRMED = (TicketStatus.ACCEPTED, TicketStatus.DISPATCHED, TicketStatus.RETURNED)


def is_held_back(ticket_id: int) -> bool:
    return ticket_id % HOLDOUT_MODULUS == 0


def history_examples(session: Session, catalogue: Catalogue) -> list[Example]:
    """Examples from tickets: the unit that kept it, its category and request type."""
    rows = session.execute(
        sa.select(
            Ticket.id,
            Ticket.title,
            Ticket.content,
            Ticket.lead_unit_id,
            Ticket.lead_unit_count,
            Ticket.category,
            Ticket.request_type,
            Ticket.status,
        )
        .where(Ticket.status != TicketStatus.MERGED)
        .order_by(Ticket.id)
    )
    out = []
    for tid, title, content, lead, lead_count, category, rtype, status in rows:
        target = None
        if lead is not None and status not in _UNCONFIRMED:
            target = catalogue.target_of(lead)
        elif status is TicketStatus.DISPATCHED and lead_count > 1:
            target = catalogue.target_of(lead)  # a reassignment is already a decision
        weight = CORRECTION_WEIGHT if lead_count > 1 else 1.0
        out.append(
            Example(
                tid,
                Document.of(title, content),
                target,
                category if category in catalogue.matter_by_path else None,
                rtype.value if rtype else None,
                weight,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class TrainingResult:
    version: int
    status: str  # "active" or "rejected"
    scores: dict[str, Any]
    n_examples: int
    n_holdout: int
    train_seconds: float
    note: str


def retrain(
    uow: UnitOfWork,
    *,
    trigger: str,
    user_id: int | None = None,
    examples: list[Example] | None = None,
    now: dt.datetime | None = None,
) -> TrainingResult:
    """Train a candidate, score it and the live version on the held-back slice, keep the better.

    `examples` replaces the ticket history (tests, imports); the catalogue always counts.
    """
    started = time.perf_counter()
    with uow:
        session = uow.session
        catalogue = load_catalogue(session)
        history = examples if examples is not None else history_examples(session, catalogue)
        seeds = catalogue_examples(catalogue)
        train = seeds + [e for e in history if not is_held_back(e.ticket_id)]
        holdout = [e for e in history if is_held_back(e.ticket_id)]
        words = catalogue.user_words()
        candidate = RoutingBundle.train(train, words)
        candidate_scores = candidate.score(holdout)
        live = session.scalar(
            sa.select(RoutingModel).where(RoutingModel.status == "active").with_for_update()
        )
        previous_scores = None
        if live is not None:
            previous_scores = load_bundle(session, live.id).score(holdout)
        accepted, note = _gate(candidate_scores, previous_scores, live)
        final = candidate
        if accepted and holdout:
            # What was compared is the recipe; what goes live has seen the newest tickets too.
            final = RoutingBundle.train(train + holdout, words)
        seconds = round(time.perf_counter() - started, 2)
        row = RoutingModel(
            status="active" if accepted else "rejected",
            trigger=trigger,
            created_by_id=user_id,
            n_examples=len(history),
            n_holdout=len(holdout),
            train_seconds=seconds,
            scores={
                "candidate": candidate_scores,
                "previous": previous_scores,
                "previous_version": live.id if live else None,
            },
            note=note,
            **_blob(final),
        )
        if now is not None:
            row.created_at = now
        if accepted and live is not None:
            live.status = "retired"
        session.add(row)
        uow.commit()
        log.info("routing model v%s %s: %s", row.id, row.status, note)
        return TrainingResult(
            row.id, row.status, row.scores, len(history), len(holdout), seconds, note
        )


def _gate(
    candidate: dict[str, Any], previous: dict[str, Any] | None, live: RoutingModel | None
) -> tuple[bool, str]:
    if live is None:
        return True, "首个模型版本，直接启用"
    new = candidate.get(GATE_TASK, {}).get(GATE_METRIC)
    old = (previous or {}).get(GATE_TASK, {}).get(GATE_METRIC)
    if new is None:
        return False, "没有可用于评估的留出样本，保留现有版本"
    if old is None or new >= old:
        return True, f"留出集派单 macro-F1 {new:.4f} ≥ 现版本 {old or 0:.4f}，启用新版本"
    return False, f"留出集派单 macro-F1 {new:.4f} 低于现版本 {old:.4f}，拒绝启用"


def _blob(bundle: RoutingBundle) -> dict[str, Any]:
    blob = dumps(bundle)
    return {"blob": blob, "sha256": hashlib.sha256(blob).hexdigest()}


def load_bundle(session: Session, version: int) -> RoutingBundle:
    """Load a saved version, checking its digest."""
    row = session.scalar(
        sa.select(RoutingModel)
        .where(RoutingModel.id == version)
        .options(undefer(RoutingModel.blob))
    )
    if row is None:
        raise LookupError(f"no routing model version {version}")
    if hashlib.sha256(row.blob).hexdigest() != row.sha256:
        raise ValueError(f"routing model version {version} is corrupt (digest mismatch)")
    bundle = loads(row.blob)
    if not isinstance(bundle, RoutingBundle):
        raise ValueError(f"routing model version {version} is not a routing bundle")
    bundle.version = row.id
    from infra.text import shared_tokenizer

    shared_tokenizer().add_words(bundle.user_words)
    return bundle


def versions_view(session: Session, limit: int = 20) -> dict[str, Any]:
    """The versions, newest first, and the live one (None while routing from the catalogue)."""
    items = list_versions(session, limit)
    return {"active": next((v for v in items if v["status"] == "active"), None), "items": items}


def list_versions(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    rows = session.scalars(sa.select(RoutingModel).order_by(RoutingModel.id.desc()).limit(limit))
    return [
        {
            "version": r.id,
            "status": r.status,
            "trigger": r.trigger,
            "created_at": r.created_at.isoformat(),
            "n_examples": r.n_examples,
            "n_holdout": r.n_holdout,
            "train_seconds": r.train_seconds,
            "scores": r.scores,
            "note": r.note,
        }
        for r in rows
    ]

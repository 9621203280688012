"""The handover (交接班): the outgoing staff sign the draft with their notes; at least two incoming
staff accept it, with remarks if they have any; then it is sealed and the outgoing shift is
relieved. Until then the outgoing shift stays on duty (接班人员未上岗，不准下岗)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from cloud.duty.draft import draft
from cloud.duty.shifts import ShiftInstance, following, handover_of
from cloud.duty.tables import Handover, HandoverStatus
from cloud.records.seal import seal
from sitewatch.dutyconfig import MIN_STAFF
from sitewatch.siteconfig import Site


class HandoverRefused(ValueError):
    """The handover cannot be signed or accepted like that; the message says why."""


def _names(names: list[str]) -> list[str]:
    cleaned = [name.strip() for name in names if name.strip()]
    if len(set(cleaned)) != len(cleaned):
        raise HandoverRefused("a name appears twice among the signatures")
    return cleaned


def sign(
    session: Session,
    site: Site,
    shift: ShiftInstance,
    signers: list[str],
    notes: str | None,
    now: datetime,
) -> Handover:
    """The outgoing staff sign the shift's draft as it stands now."""
    names = _names(signers)
    if not names:
        raise HandoverRefused("the outgoing staff must sign: give their names")
    if handover_of(session, site, shift) is not None:
        raise HandoverRefused(f"the handover of {shift.label()} is already signed")
    if now < shift.start:
        raise HandoverRefused(f"{shift.label()} has not begun; there is nothing to hand over")
    incoming = following(site, shift)
    handover = Handover(
        site=site.id,
        shift=shift.shift,
        shift_date=shift.day,
        incoming_shift=incoming.shift,
        incoming_date=incoming.day,
        status=HandoverStatus.SIGNED,
        draft={**draft(session, site, shift, now), "incoming": _shift_json(incoming)},
        notes=notes,
        outgoing=[{"name": name, "at": now.isoformat()} for name in names],
        signed_at=now,
    )
    session.add(handover)
    session.flush()
    return handover


def _shift_json(shift: ShiftInstance) -> dict[str, str]:
    """The incoming shift as it is named now: the record keeps the name even if it changes."""
    return {"id": shift.shift, "name": shift.name, "date": shift.day.isoformat()}


def accept(
    session: Session,
    site: Site,
    handover: Handover,
    staff: list[str],
    remarks: str | None,
    now: datetime,
) -> Handover:
    """At least two incoming staff take over; the record is sealed and the outgoing relieved."""
    if handover.status == HandoverStatus.ACCEPTED:
        raise HandoverRefused("this handover is already accepted and sealed; it never changes")
    names = _names(staff)
    if len(names) < MIN_STAFF:
        raise HandoverRefused(
            f"at least {MIN_STAFF} incoming staff must accept the handover (GB 25201: "
            f"接班人员未上岗，不准下岗); {len(names)} named"
        )
    outgoing = {signature["name"] for signature in handover.outgoing}
    if outgoing & set(names):
        raise HandoverRefused("the incoming staff cannot be the ones handing over")
    handover.incoming = [{"name": name, "at": now.isoformat()} for name in names]
    handover.remarks = remarks
    handover.accepted_at = now
    record = seal(
        session,
        site.id,
        "handover",
        str(handover.id),
        sealed_body(handover),
        by=", ".join(s["name"] for s in handover.outgoing + handover.incoming),
        at=now,
    )
    # Accepted and sealed in one last write: the database refuses any change after it.
    handover.sealed_id, handover.status = record.id, HandoverStatus.ACCEPTED
    session.flush()
    return handover


def sealed_body(handover: Handover) -> dict[str, object]:
    """Everything the record says, as it is sealed: the draft, notes, both sides' signatures."""
    return {
        "handover": handover.id,
        "site": handover.site,
        "shift": handover.shift,
        "shift_date": handover.shift_date.isoformat(),
        "incoming_shift": handover.incoming_shift,
        "incoming_date": handover.incoming_date.isoformat(),
        "draft": handover.draft,
        "notes": handover.notes,
        "outgoing": handover.outgoing,
        "incoming": handover.incoming,
        "remarks": handover.remarks,
        "signed_at": handover.signed_at.isoformat(),
        "accepted_at": handover.accepted_at.isoformat() if handover.accepted_at else None,
    }

"""The fire control room's duty: shifts and rosters, the duty log, alarms that still want an
entry, and the handover from one shift to the next. Log entries and handovers are legal records:
they are written once and never changed (an edit is refused with what to do instead)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cloud.api.deps import Day, IdPath, SessionDep, SiteDep
from cloud.api.duty_schemas import (
    AcceptIn,
    DutyStatus,
    EntryIn,
    EntryOut,
    HandoverDetail,
    HandoverOut,
    PendingHandover,
    PromptOut,
    RosterIn,
    SealOut,
    ShiftOut,
    ShiftsOut,
    SignIn,
)
from cloud.api.operator import OperatorDep
from cloud.api.refusals import never_changed, refuse_changes
from cloud.api.security import allow
from cloud.auth.roles import CONTROL_ROOM, Role
from cloud.duty import handover as handovers
from cloud.duty import log as duty_log
from cloud.duty import shifts
from cloud.duty.draft import draft
from cloud.duty.tables import DutyLogEntry, Handover, RosterEntry
from cloud.models import utcnow
from cloud.records.tables import SealedRecord
from sitewatch.dutyconfig import MIN_STAFF
from sitewatch.siteconfig import Site

router = APIRouter(prefix="/api/duty", tags=["duty"])
READ = allow(*CONTROL_ROOM)
WRITE = allow(Role.OPERATOR)
T = TypeVar("T")
NEVER_EDITED = "a duty log entry is never changed: write a correction that names it (corrects_id)"
SEALED = "a signed handover is never changed; an accepted one is sealed in the record chain"


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except (duty_log.EntryRefused, handovers.HandoverRefused) as exc:
        raise HTTPException(409, str(exc)) from None
    except IntegrityError:
        raise HTTPException(409, "another change came first; reload and try again") from None


def _configured(site: Site) -> None:
    if not site.duty.shifts:
        raise HTTPException(404, f"site {site.id!r} has no shifts (duty.shifts in the site file)")


def _shift_out(
    session: SessionDep, site: Site, shift: shifts.ShiftInstance | None
) -> ShiftOut | None:
    return ShiftOut.of(shift, shifts.staff_of(session, site, shift)) if shift else None


@router.get("/shifts", response_model=ShiftsOut, summary="Shifts and what breaks GB 25201", **READ)
def get_shifts(site: SiteDep) -> ShiftsOut:
    return ShiftsOut(
        status_check_hours=site.duty.status_check_hours,
        shifts=[{"id": k, **site.duty.shifts[k].model_dump()} for k in site.duty.ordered()],
        violations=site.duty.violations(),
    )


@router.put(
    "/roster/{shift}/{day}",
    response_model=ShiftOut,
    summary="Who is on a shift that day",
    **allow(Role.OPERATOR, Role.MANAGER),
)
def set_roster(
    site: SiteDep, session: SessionDep, operator: OperatorDep, shift: str, day: Day, body: RosterIn
) -> ShiftOut:
    _configured(site)
    if shift not in site.duty.shifts:
        raise HTTPException(404, f"shift {shift!r} is not configured")
    staff = [name.strip() for name in body.staff if name.strip()]
    roster = session.scalar(
        select(RosterEntry).where(
            RosterEntry.site == site.id, RosterEntry.shift == shift, RosterEntry.shift_date == day
        )
    )
    if roster is None:
        roster = RosterEntry(
            site=site.id, shift=shift, shift_date=day, staff=staff, set_by=operator
        )
        session.add(roster)
    roster.staff, roster.set_by, roster.set_at = staff, operator, utcnow()
    session.commit()
    return ShiftOut.of(shifts.instance(site, shift, day), staff)


@router.get(
    "/status", response_model=DutyStatus, summary="Who is on duty, and any pending handover", **READ
)
def status(site: SiteDep, session: SessionDep) -> DutyStatus:
    now = utcnow()
    on, wanted = shifts.on_duty(session, site, now)
    pending, message, violations = None, None, []
    if on is not None and wanted is not None and on != wanted:
        signed = shifts.handover_of(session, site, on)
        incoming = shifts.following(site, on)
        pending = PendingHandover(
            id=signed.id if signed else None,
            signed=signed is not None,
            outgoing=_shift_out(session, site, on),
            incoming=_shift_out(session, site, incoming),
        )
        message = (
            f"{on.label()} remains on duty until {incoming.label()} accepts the handover "
            "(接班人员未上岗，不准下岗)"
        )
    if on is not None:
        staff = shifts.staff_of(session, site, on)
        if len(staff) < MIN_STAFF:
            violations.append(
                f"{on.label()} has {len(staff)} on duty; GB 25201 wants at least {MIN_STAFF}"
            )
    last = duty_log.last_status_check(session, site)
    due = last + timedelta(hours=site.duty.status_check_hours) if last else None
    return DutyStatus(
        on_duty=_shift_out(session, site, on),
        scheduled=_shift_out(session, site, wanted),
        pending=pending,
        message=message,
        violations=violations + site.duty.violations(),
        last_status_check=last,
        status_check_due=due,
    )


def _entries_out(session: SessionDep, entries: list[DutyLogEntry]) -> list[EntryOut]:
    ids = [e.id for e in entries]
    corrections: dict[int, list[int]] = {}
    if ids:
        rows = session.execute(
            select(DutyLogEntry.corrects_id, DutyLogEntry.id).where(
                DutyLogEntry.corrects_id.in_(ids)
            )
        )
        for corrected, by in rows:
            corrections.setdefault(corrected, []).append(by)
    return [
        EntryOut.model_validate(e).model_copy(update={"corrected_by": corrections.get(e.id, [])})
        for e in entries
    ]


@router.get(
    "/log", response_model=list[EntryOut], summary="The duty log of a day or a shift", **READ
)
def get_log(
    site: SiteDep,
    session: SessionDep,
    day: Annotated[Day | None, Query(description="local date a shift began; default today")] = None,
    shift: Annotated[str | None, Query(description="only this shift")] = None,
) -> list[EntryOut]:
    when = day or shifts.local_date(site, utcnow())
    query = select(DutyLogEntry).where(
        DutyLogEntry.site == site.id, DutyLogEntry.shift_date == when
    )
    if shift is not None:
        query = query.where(DutyLogEntry.shift == shift)
    return _entries_out(
        session, list(session.scalars(query.order_by(DutyLogEntry.at, DutyLogEntry.id)))
    )


@router.post(
    "/log", response_model=EntryOut, status_code=201, summary="Write a duty log entry", **WRITE
)
def write(site: SiteDep, session: SessionDep, operator: OperatorDep, body: EntryIn) -> EntryOut:
    _configured(site)
    with _refusals():
        entry = duty_log.write_entry(
            session, site, author=operator, now=utcnow(), **body.model_dump()
        )
        session.commit()
    return EntryOut.model_validate(entry)


def never_edit_entry(entry_id: IdPath) -> None:
    raise never_changed(NEVER_EDITED)


refuse_changes(router, "/log/{entry_id}", never_edit_entry, NEVER_EDITED, **WRITE)


@router.get(
    "/prompts",
    response_model=list[PromptOut],
    summary="Fire alarms and faults with no log entry",
    **READ,
)
def get_prompts(
    site: SiteDep, session: SessionDep, hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24
) -> list[PromptOut]:
    found = duty_log.prompts(session, site, utcnow() - timedelta(hours=hours))
    return [
        PromptOut(
            alarm_id=p.alarm.id,
            category=p.alarm.category,
            text=p.alarm.text,
            where=p.alarm.device_name,
            location=p.alarm.location,
            raised_at=p.alarm.raised_at,
            handled=p.handled,
        )
        for p in found
    ]


def _shift(
    session: SessionDep, site: Site, shift: str | None, day: date | None
) -> shifts.ShiftInstance:
    _configured(site)
    if shift is None or day is None:
        on, _ = shifts.on_duty(session, site, utcnow())
        if on is None:
            raise HTTPException(409, "no shift is on duty now")
        return on
    if shift not in site.duty.shifts:
        raise HTTPException(404, f"shift {shift!r} is not configured")
    return shifts.instance(site, shift, day)


@router.get("/handover/draft", summary="The handover draft of a shift as it stands now", **READ)
def get_draft(
    site: SiteDep,
    session: SessionDep,
    shift: str | None = None,
    day: Annotated[Day | None, Query(alias="date")] = None,
) -> dict[str, object]:
    return draft(session, site, _shift(session, site, shift, day), utcnow())


@router.post(
    "/handovers",
    response_model=HandoverOut,
    status_code=201,
    summary="The outgoing staff sign the handover (default: of the shift on duty)",
    **WRITE,
)
def sign(site: SiteDep, session: SessionDep, operator: OperatorDep, body: SignIn) -> HandoverOut:
    outgoing = _shift(session, site, body.shift, body.day)
    return _commit(
        session, lambda: handovers.sign(session, site, outgoing, body.signers, body.notes, utcnow())
    )


@router.post(
    "/handovers/{handover_id}/accept",
    response_model=HandoverOut,
    summary="The incoming staff (at least 2) accept: sealed, outgoing relieved",
    **WRITE,
)
def accept(
    site: SiteDep, session: SessionDep, operator: OperatorDep, handover_id: IdPath, body: AcceptIn
) -> HandoverOut:
    handover = _handover(session, site, handover_id)
    return _commit(
        session,
        lambda: handovers.accept(session, site, handover, body.staff, body.remarks, utcnow()),
    )


def _commit(session: SessionDep, do: Callable[[], Handover]) -> HandoverOut:
    with _refusals():
        handover = do()
        session.commit()
    return HandoverOut.model_validate(handover)


def _handover(session: SessionDep, site: Site, handover_id: IdPath) -> Handover:
    found = session.get(Handover, handover_id)
    if found is None or found.site != site.id:
        raise HTTPException(404, f"handover {handover_id} does not exist in site {site.id!r}")
    return found


@router.get(
    "/handovers", response_model=list[HandoverOut], summary="Handovers, newest first", **READ
)
def list_handovers(
    site: SiteDep,
    session: SessionDep,
    begin: Annotated[Day | None, Query(alias="from", description="first shift date")] = None,
    end: Annotated[Day | None, Query(alias="to", description="last shift date")] = None,
    status: Annotated[str | None, Query(description="signed or accepted")] = None,
) -> list[HandoverOut]:
    query = select(Handover).where(Handover.site == site.id)
    if begin is not None:
        query = query.where(Handover.shift_date >= begin)
    if end is not None:
        query = query.where(Handover.shift_date <= end)
    if status is not None:
        query = query.where(Handover.status == status)
    found = session.scalars(query.order_by(Handover.shift_date.desc(), Handover.signed_at.desc()))
    return [HandoverOut.model_validate(h) for h in found]


@router.get(
    "/handovers/{handover_id}",
    response_model=HandoverDetail,
    summary="One handover in full",
    **READ,
)
def get_handover(site: SiteDep, session: SessionDep, handover_id: IdPath) -> HandoverDetail:
    handover = _handover(session, site, handover_id)
    record = session.get(SealedRecord, handover.sealed_id) if handover.sealed_id else None
    seal = SealOut.model_validate(record, from_attributes=True) if record else None
    return HandoverDetail(
        **HandoverOut.model_validate(handover).model_dump(), draft=handover.draft, seal=seal
    )


def never_edit_handover(handover_id: IdPath) -> None:
    raise never_changed(SEALED)


refuse_changes(router, "/handovers/{handover_id}", never_edit_handover, SEALED, **WRITE)

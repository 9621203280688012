"""Maintenance tags (挂警示标识): take equipment out of service before anything alarms, list tags."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from cloud.alarms import actions
from cloud.api.alarm_schemas import NoteIn, ReasonIn
from cloud.api.alarms import perform
from cloud.api.deps import SessionDep
from cloud.api.operator import OperatorDep
from cloud.api.security import EVERYONE, allow
from cloud.auth.roles import Role
from cloud.models import EquipmentTag, utcnow
from sitewatch.siteconfig import Site

router = APIRouter(prefix="/api/equipment", tags=["equipment"])
READ = EVERYONE
WRITE = allow(Role.OPERATOR, Role.ENGINEER)


class TagOut(BaseModel):
    id: int
    site: str
    node: str
    device: str
    device_name: str | None
    tagged_by: str
    reason: str
    tagged_at: datetime
    removed_by: str | None
    removed_at: datetime | None
    removed_note: str | None


def _configured(request: Request, site: str, node: str, device: str) -> str | None:
    """The device's name; 404 unless the site file has it."""
    config = request.app.state.sites.get(site)
    found = config.device(node, device) if config is not None else None
    if found is None:
        raise HTTPException(404, f"device {site}/{node}/{device} is not configured")
    return found.name


def _device_name(sites: dict[str, Site], tag: EquipmentTag) -> str | None:
    site = sites.get(tag.site)
    device = site.device(tag.node, tag.device) if site is not None else None
    return device.name if device is not None else None


@router.get("/tags", response_model=list[TagOut], summary="Maintenance tags, newest first", **READ)
def list_tags(
    request: Request,
    session: SessionDep,
    include_removed: Annotated[bool, Query(description="also tags taken down")] = False,
) -> list[TagOut]:
    query = select(EquipmentTag).order_by(EquipmentTag.tagged_at.desc())
    if not include_removed:
        query = query.where(EquipmentTag.removed_at.is_(None))
    sites = request.app.state.sites
    return [
        TagOut(
            id=t.id,
            site=t.site,
            node=t.node,
            device=t.device,
            device_name=(found.name if (found := sites[t.site].device(t.node, t.device)) else None)
            if t.site in sites
            else None,
            tagged_by=t.tagged_by,
            reason=t.reason,
            tagged_at=t.tagged_at,
            removed_by=t.removed_by,
            removed_at=t.removed_at,
            removed_note=t.removed_note,
        )
        for t in session.scalars(query)
    ]


@router.post("/{site}/{node}/{device}/out-of-service", status_code=204, **WRITE)
def out_of_service(
    request: Request, site: str, node: str, device: str, body: ReasonIn, by: OperatorDep
) -> None:
    _configured(request, site, node, device)
    perform(
        request,
        lambda s: actions.tag_equipment(s, site, node, device, by, utcnow(), body.reason),
    )


@router.post("/{site}/{node}/{device}/return-to-service", status_code=204, **WRITE)
def return_to_service(
    request: Request, site: str, node: str, device: str, body: NoteIn, by: OperatorDep
) -> None:
    _configured(request, site, node, device)
    perform(
        request,
        lambda s: actions.untag_equipment(s, site, node, device, by, utcnow(), body.note),
    )

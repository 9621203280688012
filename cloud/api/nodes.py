"""Node, device and point endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import select

from cloud.api.deps import SessionDep, site_of_node
from cloud.api.schemas import CardReadOut, DeadLetterOut, DeviceOut, NodeOut, PointOut
from cloud.api.security import EVERYONE, allow
from cloud.auth.roles import CONTROL_ROOM, Role
from cloud.models import CardReadRecord, DeadLetter, DeviceRecord, NodeRecord, PointRecord

router = APIRouter(tags=["nodes"])
READ = allow(*CONTROL_ROOM)
WRITE = allow(Role.OPERATOR, Role.ENGINEER)


@router.get(
    "/api/nodes",
    response_model=list[NodeOut],
    summary="Configured edge nodes and their link",
    **EVERYONE,
)
def list_nodes(request: Request, session: SessionDep) -> list[NodeOut]:
    records = {(n.site, n.node): n for n in session.scalars(select(NodeRecord))}
    devices: dict[tuple[str, str], list[DeviceRecord]] = {}
    for device in session.scalars(select(DeviceRecord).order_by(DeviceRecord.device)):
        devices.setdefault((device.site, device.node), []).append(device)
    result = []
    for site in request.app.state.sites.values():
        for node in site.nodes.values():
            record = records.get((site.id, node.id))
            result.append(
                NodeOut(
                    site=site.id,
                    node=node.id,
                    name=node.name,
                    online=bool(record and record.online),
                    boot=record.boot if record else 0,
                    software=record.software if record else None,
                    config_hash=record.config_hash if record else None,
                    last_seen=record.last_seen if record else None,
                    devices=[
                        DeviceOut.model_validate(d) for d in devices.get((site.id, node.id), [])
                    ],
                )
            )
    return result


@router.get(
    "/api/points",
    response_model=list[PointOut],
    summary="Latest value of every point",
    **EVERYONE,
)
def list_points(
    request: Request, session: SessionDep, node: str | None = None, device: str | None = None
) -> list[PointOut]:
    query = select(PointRecord).order_by(PointRecord.node, PointRecord.device, PointRecord.point)
    if node is not None:
        query = query.where(PointRecord.node == node)
    if device is not None:
        query = query.where(PointRecord.device == device)
    sites = request.app.state.sites
    result = []
    for record in session.scalars(query):
        out = PointOut.model_validate(record)
        site = sites.get(record.site)
        spec = site.point(record.node, record.device, record.point) if site else None
        if spec is not None:
            out.label, out.unit = spec.label, spec.unit
        result.append(out)
    return result


@router.get(
    "/api/dead-letters", response_model=list[DeadLetterOut], summary="Rejected messages", **READ
)
def list_dead_letters(
    session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[DeadLetterOut]:
    rows = session.scalars(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit))
    return [
        DeadLetterOut(
            id=row.id,
            received_at=row.received_at,
            topic=row.topic,
            reason=row.reason,
            payload_preview=row.payload[:200].decode("utf-8", "replace"),
        )
        for row in rows
    ]


@router.get(
    "/api/reads", response_model=list[CardReadOut], summary="Recent card reads at readers", **READ
)
def list_reads(
    request: Request,
    session: SessionDep,
    node: str | None = None,
    reader: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[CardReadOut]:
    query = select(CardReadRecord).order_by(CardReadRecord.id.desc()).limit(limit)
    if node is not None:
        query = query.where(CardReadRecord.node == node)
    if reader is not None:
        query = query.where(CardReadRecord.reader == reader)
    sites = request.app.state.sites
    result = []
    for record in session.scalars(query):
        out = CardReadOut.model_validate(record)
        site = sites.get(record.site)
        node = site.nodes.get(record.node) if site else None
        config = node.readers.get(record.reader) if node else None
        if config is not None:
            out.reader_name, out.location, out.role = config.name, config.location, config.role
            out.lane, out.direction = config.lane, config.direction
        result.append(out)
    return result


@router.post(
    "/api/nodes/{node}/rebirth",
    status_code=202,
    summary="Ask an edge node to re-send its birth (every current value)",
    responses={404: {"description": "no such node"}, 503: {"description": "broker not reachable"}},
    **WRITE,
)
def request_rebirth(request: Request, node: str, site: str | None = None) -> dict[str, str]:
    site_id = site_of_node(request.app.state.sites, node, site)
    commands = request.app.state.commands
    if commands is None or not commands.send_command(site_id, node, "rebirth", {}):
        raise HTTPException(503, "the broker is not reachable; the command was not sent")
    return {"status": "sent", "site": site_id, "node": node}

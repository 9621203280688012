"""Gap endpoints: the seqs of a node's streams that the cloud has not stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from cloud import gaps
from cloud.api.deps import SessionDep, site_of_node
from cloud.api.schemas import GapOut, GapSummaryOut
from cloud.api.security import allow
from cloud.auth.roles import CONTROL_ROOM
from cloud.models import utcnow

router = APIRouter(tags=["gaps"])
READ = allow(*CONTROL_ROOM)


@router.get(
    "/api/nodes/{node}/gaps",
    response_model=list[GapOut],
    summary="Missing seq ranges of a node's streams, newest stream first",
    **READ,
)
def list_node_gaps(
    request: Request,
    session: SessionDep,
    node: str,
    site: Annotated[
        str | None, Query(description="needed only if several sites have the node")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[GapOut]:
    site_id = site_of_node(request.app.state.sites, node, site)
    now = utcnow()
    return [
        GapOut(
            site=gap.site,
            node=gap.node,
            stream=gap.stream,
            first_missing=gap.first_missing,
            last_missing=gap.last_missing,
            count=gap.count,
            since=gap.since,
            age_s=gap.age_s(now),
        )
        for gap in gaps.node_gaps(session, site_id, node)[:limit]
    ]


@router.get(
    "/api/gaps",
    response_model=list[GapSummaryOut],
    summary="Per node: stored and missing seqs of its most recently active stream",
    **READ,
)
def list_gaps(request: Request, session: SessionDep) -> list[GapSummaryOut]:
    current = gaps.current_streams(session)
    result = []
    for site in request.app.state.sites.values():
        for node in site.nodes:
            stats = current.get((site.id, node))
            if stats is None:
                result.append(
                    GapSummaryOut(
                        site=site.id,
                        node=node,
                        stream=None,
                        highest_seq=0,
                        stored=0,
                        missing=0,
                        gaps=0,
                    )
                )
                continue
            found = gaps.stream_gaps(session, stats)
            result.append(
                GapSummaryOut(
                    site=site.id,
                    node=node,
                    stream=stats.stream,
                    highest_seq=stats.highest_seq,
                    stored=stats.stored,
                    missing=found.missing,
                    gaps=len(found.gaps),
                )
            )
    return result

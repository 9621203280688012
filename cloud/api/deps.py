"""FastAPI dependencies: a database session per request, and which site a node belongs to."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from cloud.models import utcnow
from sitewatch.siteconfig import Site


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def site_of_node(sites: dict[str, Site], node: str, site: str | None) -> str:
    """The site of a configured node; `site` may be left out when only one site has `node`."""
    if site is not None:
        if site not in sites or node not in sites[site].nodes:
            raise HTTPException(404, f"node {node!r} is not configured in site {site!r}")
        return site
    owners = sorted(s.id for s in sites.values() if node in s.nodes)
    if not owners:
        raise HTTPException(404, f"node {node!r} is not configured in any site")
    if len(owners) > 1:
        raise HTTPException(
            400, f"node {node!r} is in several sites ({', '.join(owners)}): give ?site="
        )
    return owners[0]


def configured_site(
    request: Request,
    site: Annotated[
        str | None, Query(description="site id; may be left out when only one is configured")
    ] = None,
) -> Site:
    """The site asked for; it may be left out when this cloud watches only one."""
    sites: dict[str, Site] = request.app.state.sites
    if site is None:
        if len(sites) != 1:
            known = ", ".join(sorted(sites)) or "none"
            raise HTTPException(
                400, f"{len(sites)} sites are configured ({known}): say which with ?site="
            )
        return next(iter(sites.values()))
    if site not in sites:
        raise HTTPException(404, f"site {site!r} is not configured")
    return sites[site]


SiteDep = Annotated[Site, Depends(configured_site)]


def clock_now() -> datetime:
    """The time a request is judged at; tests put their own clock here (dependency_overrides)."""
    return utcnow()


NowDep = Annotated[datetime, Depends(clock_now)]

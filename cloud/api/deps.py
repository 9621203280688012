"""FastAPI dependencies: a database session per request, and which site a node belongs to."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from pydantic import AfterValidator, AwareDatetime, Field
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


# Limits on what a request may name. A number or date past them is refused with a 422 naming the
# limit; without them it reached SQLite ("Python int too large to convert to SQLite INTEGER") or
# date arithmetic ("date value out of range") and became a 500.
INT64_MAX = 2**63 - 1
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9000, 12, 31)


def _day_in_range(day: date | None) -> date | None:
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"a date must lie between {FIRST_DAY} and {LAST_DAY}")
    return day


def _instant_in_range(when: datetime | None) -> datetime | None:
    if when is not None:
        _day_in_range(when.date())
    return when


RECORD_ID = {"ge": 1, "le": INT64_MAX, "description": "a record id (1 to 2^63-1)"}
# A record's id in a path: a 64-bit database key, so anything larger cannot name a record.
IdPath = Annotated[int, Path(**RECORD_ID)]
# A record's id in a request body.
IdField = Annotated[int, Field(**RECORD_ID)]
# A date or time a request gives: within the years any record can have (and date arithmetic holds).
Day = Annotated[date, AfterValidator(_day_in_range)]
Instant = Annotated[datetime, AfterValidator(_instant_in_range)]
AwareInstant = Annotated[AwareDatetime, AfterValidator(_instant_in_range)]

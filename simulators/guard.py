"""A guard walking a patrol route: taps their badge at each checkpoint's simulated reader, at the
route's walking pace (sped up for tests and the demo), skipping any checkpoints asked to."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass

from simulators.site import SiteSimulator


@dataclass(frozen=True)
class Step:
    checkpoint: str
    node: str
    reader: str
    tapped: bool


async def walk_route(
    sims: SiteSimulator,
    route_id: str,
    badge: str,
    skip: Collection[str] = (),
    speed: float = 1.0,
) -> list[Step]:
    """Walk `route_id` of the simulated site with `badge`; `speed` 60 makes a minute a second.
    Returns what was done at each stop, in order."""
    patrol = sims.site.patrol
    route = patrol.routes[route_id]
    steps = []
    for index, stop in enumerate(route.stops):
        if index:
            await asyncio.sleep(stop.walk_min * 60 / speed)  # the walk itself, not a wait
        place = patrol.checkpoints[stop.checkpoint]
        tapped = stop.checkpoint not in skip
        if tapped:
            sims.reader(place.node, place.reader).tap(badge)
        steps.append(Step(stop.checkpoint, place.node, place.reader, tapped))
    return steps

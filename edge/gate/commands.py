"""The `gate_open` command's arguments, checked before any relay moves.

    {"lane": "lane-in", "by": "booth: 王芳", "reason": "visitor for 3-1202",
     "card": "0A00BC614E", "registered": true, "direction": "in"}

`lane`, `by` and `reason` are required: an opening with no name or no why is not recorded, so it
is not done. `card` (the stranger's card, if they have one), `registered` (the booth registered a
stranger vehicle; otherwise it is an override) and `direction` (default: that of the lane's gate
reader) are optional. Unknown keys are refused too, so a misspelt argument is noticed, not ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sitewatch import wire
from sitewatch.parkingconfig import Lane
from sitewatch.siteconfig import ReaderConfig


class GateOpenArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    lane: wire.Name
    by: str = Field(min_length=1, max_length=120)
    reason: str = Field(min_length=1, max_length=500)
    card: wire.CardId | None = None
    registered: bool = False
    direction: Literal["in", "out"]


def parse_gate_open(
    args: Mapping[str, Any], lanes: Mapping[str, Lane], readers: Mapping[str, ReaderConfig]
) -> GateOpenArgs | str:
    """The checked arguments, or why they are refused (one line, for the log)."""
    lane = args.get("lane")
    if not isinstance(lane, str) or lane not in lanes:
        return f"lane {lane!r} is not a lane of this node (lanes: {', '.join(sorted(lanes))})"
    data = dict(args)
    if "direction" not in data:
        directions = {r.direction for r in readers.values() if r.lane == lane}
        if len(directions) != 1:
            return f"lane {lane} has no single reader direction; say 'direction' (in or out)"
        data["direction"] = directions.pop()
    try:
        return GateOpenArgs.model_validate(data)
    except ValidationError as exc:
        return wire.describe_validation_error(exc)

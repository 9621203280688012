"""Check a site file's inspection section against the devices and points of each room's node."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch.inspectionconfig import Inspection
from sitewatch.siteconfig import Node

if TYPE_CHECKING:
    from sitewatch.configload import PathParts, _YamlDoc

PUMP_POINTS = ("running", "in_auto", "start_cause")


def _need(doc: _YamlDoc, node: Node, at: PathParts, device: str, points: tuple[str, ...]) -> None:
    """The device must be on the room's node and have these points."""
    found = node.devices.get(device)
    if found is None:
        doc.problems.append(doc.problem(at, f"device '{device}' is not on node '{node.id}'"))
        return
    for point in points:
        if point not in found.points:
            doc.problems.append(doc.problem(at, f"device '{device}' has no point '{point}'"))


def check_inspection(doc: _YamlDoc, inspection: Inspection, nodes: dict[str, Node]) -> None:
    for room_id, room in inspection.rooms.items():
        at: PathParts = ("inspection", "rooms", room_id)
        node = nodes.get(room.node)
        if node is None:
            doc.problems.append(doc.problem((*at, "node"), f"node '{room.node}' is not defined"))
            continue
        for pump_id, pump in room.pumps.items():
            _need(doc, node, (*at, "pumps", pump_id), pump_id, PUMP_POINTS)
            for side in ("discharge", "suction"):
                pressure = getattr(pump, side)
                if pressure is not None:
                    where = (*at, "pumps", pump_id, side)
                    _need(doc, node, where, pressure.device, (pressure.point,))
        if room.jockey is not None:
            _need(doc, node, (*at, "jockey", "device"), room.jockey.device, ("running",))
        for index, line in enumerate(room.supply):
            _need(doc, node, (*at, "supply", index), line.device, (line.point,))
        for index, valve in enumerate(room.valves):
            _need(doc, node, (*at, "valves", index), valve.device, (valve.point,))
        for index, leak in enumerate(room.leaks):
            _need(doc, node, (*at, "leaks", index), leak, ())

"""Check a site file's parking section against its nodes, devices and gate readers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch.parkingconfig import Parking
from sitewatch.siteconfig import Node, Table

if TYPE_CHECKING:
    from sitewatch.configload import _YamlDoc


def check_parking(doc: _YamlDoc, parking: Parking, nodes: dict[str, Node]) -> None:
    """Report every parking problem into `doc`, with its key path."""
    for lane_id, lane in parking.lanes.items():
        at = ("parking", "lanes", lane_id)
        node = nodes.get(lane.node)
        if node is None:
            doc.problems.append(doc.problem((*at, "node"), f"node '{lane.node}' is not defined"))
            continue
        device = node.devices.get(lane.relay.device)
        if device is None:
            doc.problems.append(
                doc.problem(
                    (*at, "relay", "device"),
                    f"device '{lane.relay.device}' is not on node '{lane.node}'",
                )
            )
            continue
        point = device.points.get(lane.relay.point)
        if point is None or point.table is not Table.COIL:
            what = "has no point" if point is None else "has no coil"
            doc.problems.append(
                doc.problem(
                    (*at, "relay", "point"),
                    f"device '{device.id}' {what} '{lane.relay.point}' to drive a barrier relay",
                )
            )
    for node_id, node in nodes.items():
        for reader_id, reader in node.readers.items():
            if reader.role != "gate" or reader.lane is None:
                continue
            lane = parking.lanes.get(reader.lane)
            if lane is None or lane.node != node_id:
                doc.problems.append(
                    doc.problem(
                        ("nodes", node_id, "readers", reader_id, "lane"),
                        f"lane '{reader.lane}' is not a lane of node '{node_id}' under "
                        "parking.lanes (a gate reader needs the relay of its barrier)",
                    )
                )

"""Check a site file's patrol section against its nodes and readers, naming the key and line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch.patrolconfig import Patrol
from sitewatch.siteconfig import Node

if TYPE_CHECKING:
    from sitewatch.configload import _YamlDoc


def check_patrol(doc: _YamlDoc, patrol: Patrol, nodes: dict[str, Node]) -> Patrol:
    """Report every patrol problem into `doc`; returns the section with checkpoint names filled
    in from their readers."""
    named = {}
    bound: dict[tuple[str, str], str] = {}
    for checkpoint_id, checkpoint in patrol.checkpoints.items():
        at = ("patrol", "checkpoints", checkpoint_id)
        node = nodes.get(checkpoint.node)
        if node is None:
            doc.problems.append(
                doc.problem((*at, "node"), f"node '{checkpoint.node}' is not defined")
            )
            continue
        reader = node.readers.get(checkpoint.reader)
        if reader is None:
            known = ", ".join(sorted(node.readers)) or "none"
            doc.problems.append(
                doc.problem(
                    (*at, "reader"),
                    f"reader '{checkpoint.reader}' is not on node '{checkpoint.node}' "
                    f"(readers: {known})",
                )
            )
            continue
        if reader.role != "checkpoint":
            doc.problems.append(
                doc.problem(
                    (*at, "reader"),
                    f"reader '{checkpoint.reader}' is a {reader.role} reader, not a checkpoint",
                )
            )
        key = (checkpoint.node, checkpoint.reader)
        if key in bound:
            doc.problems.append(
                doc.problem(
                    (*at, "reader"),
                    f"reader '{checkpoint.reader}' is already checkpoint '{bound[key]}'",
                )
            )
        bound[key] = checkpoint_id
        named[checkpoint_id] = checkpoint.model_copy(
            update={"name": checkpoint.name or reader.name}
        )
    for route_id, route in patrol.routes.items():
        at = ("patrol", "routes", route_id)
        for index, stop in enumerate(route.stops):
            if stop.checkpoint not in patrol.checkpoints:
                doc.problems.append(
                    doc.problem(
                        (*at, "stops", index, "checkpoint"),
                        f"checkpoint '{stop.checkpoint}' is not defined under patrol.checkpoints",
                    )
                )
        grace, lone = patrol.grace(route), patrol.lone_worker(route)
        for index, stop in enumerate(route.stops[1:], start=1):
            missed_after = stop.walk_min + stop.tolerance_min + grace
            if lone >= missed_after:
                doc.problems.append(
                    doc.problem(
                        (*at, "stops", index),
                        f"lone-worker time {lone:g} min must be shorter than walk + tolerance + "
                        f"grace ({missed_after:g} min) so that a silent guard is reported before "
                        "the checkpoint is missed; set lone_worker_min on the route",
                    )
                )
                break
    return patrol.model_copy(
        update={
            "checkpoints": named | {k: v for k, v in patrol.checkpoints.items() if k not in named}
        }
    )

"""Rows of a batch's nodes: a WHERE clause that SQLite and PostgreSQL both answer from an index."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

NodeKey = tuple[str, str]  # site, node


def of_nodes(
    site: ColumnElement[Any], node: ColumnElement[Any], keys: Iterable[NodeKey]
) -> ColumnElement[bool]:
    """`(site, node) IN keys`, written as `site = ? AND node IN (...)` for each site. SQLite
    answers a row-value IN list by scanning the whole table (every batch, every alarm and
    point of every site); this form it looks up in the (site, node, ...) unique index."""
    by_site: dict[str, list[str]] = defaultdict(list)
    for site_id, node_id in keys:
        by_site[site_id].append(node_id)
    return or_(*(and_(site == site_id, node.in_(nodes)) for site_id, nodes in by_site.items()))

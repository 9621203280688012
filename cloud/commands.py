"""Commands to edges that a transaction decides on, sent only once it has committed.

An engine that wants a reader to beep (or a gate to open) queues the command in the session; the
writer that commits the session sends what `take_commands` returns. A rolled-back transaction
sends nothing, and a retried one queues its commands again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

COMMANDS = "sitewatch.commands"  # key in Session.info


@dataclass(frozen=True)
class EdgeCommand:
    site: str
    node: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)


def queue_command(session: Session, command: EdgeCommand) -> None:
    session.info.setdefault(COMMANDS, []).append(command)


def take_commands(session: Session) -> list[EdgeCommand]:
    """The commands queued in this session, in order; the queue is emptied."""
    return session.info.pop(COMMANDS, [])

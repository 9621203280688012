"""SQLAlchemy models of what the cloud stores: messages, nodes, devices, points, alarms, dead letters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned as aware UTC, also on SQLite (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; Sitewatch stores aware UTC times")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class MessageJSON(TypeDecorator[Any]):
    """A message as JSON text, read back as a dict. Text given is stored verbatim: ingest keeps
    the bytes the edge sent (already validated) instead of encoding the message again."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class StoredMessage(Base):
    """Every accepted edge message; `(site, node, stream, seq)` is unique, which makes ingest idempotent."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("site", "node", "stream", "seq", name="uq_message_position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    boot: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    source_ts: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(MessageJSON)


class NodeRecord(Base):
    __tablename__ = "nodes"
    __table_args__ = (UniqueConstraint("site", "node"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    online: Mapped[bool] = mapped_column(default=False)
    boot: Mapped[int] = mapped_column(BigInteger, default=0)
    # The seq of the current boot's birth: a later message of this stream cannot be of an
    # earlier boot (a backlog replay of an earlier boot has lower seqs).
    boot_seq: Mapped[int | None] = mapped_column(BigInteger)
    stream: Mapped[str | None] = mapped_column(String(64))
    software: Mapped[str | None] = mapped_column(String(64))
    config_hash: Mapped[str | None] = mapped_column(String(128))
    last_seen: Mapped[datetime | None]
    last_birth: Mapped[datetime | None]
    last_heartbeat: Mapped[datetime | None]
    clock_offset_ms: Mapped[int | None] = mapped_column(BigInteger)


class DeviceRecord(Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("site", "node", "device"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    online: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    stream: Mapped[str | None] = mapped_column(String(64))
    seq: Mapped[int | None] = mapped_column(BigInteger)


class PointRecord(Base):
    """The latest value of a point; only a newer `(stream, seq)` position may replace it."""

    __tablename__ = "points"
    __table_args__ = (UniqueConstraint("site", "node", "device", "point"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    point: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    quality: Mapped[str] = mapped_column(String(16))
    source_ts: Mapped[int] = mapped_column(BigInteger)
    stream: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlarmRecord(Base):
    """One alarm: a condition of a source (a point, a device or a node's link), with its ISA-18.2
    state. The row lives on across occurrences; each occurrence is told by its history."""

    __tablename__ = "alarms"
    __table_args__ = (
        UniqueConstraint("site", "node", "device", "point", "condition", name="uq_alarm_source"),
        Index("ix_alarm_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    point: Mapped[str] = mapped_column(String(64))
    condition: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(120))
    device_name: Mapped[str | None] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(32))
    # The condition as the rules see it after on/off delays, and as last evaluated before them.
    active: Mapped[bool] = mapped_column(default=False)
    raw_active: Mapped[bool] = mapped_column(default=False)
    # When a change of raw_active waiting out its on/off delay takes effect (None: none waits).
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    latched: Mapped[bool] = mapped_column(default=False)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    raised_at: Mapped[datetime | None]  # start of the current (or last) occurrence
    cleared_at: Mapped[datetime | None]
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    acked_by: Mapped[str | None] = mapped_column(String(120))
    acked_at: Mapped[datetime | None]
    shelved_until: Mapped[datetime | None]
    shelved_by: Mapped[str | None] = mapped_column(String(120))
    shelve_reason: Mapped[str | None] = mapped_column(Text)
    # Optimistic locking: an operator's action and an ingest batch never overwrite each other.
    version: Mapped[int] = mapped_column(default=1)
    history: Mapped[list[AlarmEventRecord]] = relationship(
        back_populates="alarm", order_by="AlarmEventRecord.id"
    )

    __mapper_args__: ClassVar = {"version_id_col": version}


class AlarmEventRecord(Base):
    """An append-only line of an alarm's history: what the engine did and every operator action
    (who, when, why). Never edited or deleted: the database refuses it (see `cloud.db`)."""

    __tablename__ = "alarm_events"
    __table_args__ = (Index("ix_alarm_events_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    by: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    alarm: Mapped[AlarmRecord] = relationship(back_populates="history")


class EquipmentTag(Base):
    """A maintenance tag (挂警示标识) on a device: its alarms are out of service while it hangs.
    Removing it sets `removed_*`; the row stays as the record of the maintenance."""

    __tablename__ = "equipment_tags"
    __table_args__ = (Index("ix_equipment_tag_device", "site", "node", "device"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    tagged_by: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    tagged_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_by: Mapped[str | None] = mapped_column(String(120))
    removed_at: Mapped[datetime | None]
    removed_note: Mapped[str | None] = mapped_column(Text)


class DeadLetter(Base):
    """A message that failed validation, kept with the reason and its raw bytes."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    topic: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class CardReadRecord(Base):
    """A card tapped at a reader (checkpoint or gate lane), as the edge saw it."""

    __tablename__ = "card_reads"
    __table_args__ = (Index("ix_card_reads_time", "site", "source_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    reader: Mapped[str] = mapped_column(String(64))
    card: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    source_ts: Mapped[int] = mapped_column(BigInteger)
    stream: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class StreamFloor(Base):
    """The highest `seq` of a stream that retention has pruned: below it nothing is a gap."""

    __tablename__ = "stream_floors"
    __table_args__ = (UniqueConstraint("site", "node", "stream", name="uq_stream_floor"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(64))
    pruned_through: Mapped[int] = mapped_column(BigInteger)


class PruningPermit(Base):
    """Present only inside the retention job's transaction: the alarm history's append-only
    triggers let a transaction that holds a permit delete old lines, and nobody else."""

    __tablename__ = "pruning_permit"

    holder: Mapped[str] = mapped_column(String(32), primary_key=True)


# The telemetry tables live in their package; imported here so that Base.metadata (migrations,
# create_all) always has them, whoever imports the models first.
from cloud.auth import tables as _auth_tables  # noqa: E402, F401
from cloud.duty import tables as _duty_tables  # noqa: E402, F401
from cloud.gates import tables as _gate_tables  # noqa: E402, F401
from cloud.inspection import tables as _inspection_tables  # noqa: E402, F401
from cloud.patrol import tables as _patrol_tables  # noqa: E402, F401
from cloud.records import tables as _record_tables  # noqa: E402, F401
from cloud.telemetry import tables as _telemetry_tables  # noqa: E402, F401

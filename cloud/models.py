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
    """One alarm occurrence, from raise until it is back to normal (ISA-18.2 states)."""

    __tablename__ = "alarms"
    __table_args__ = (Index("ix_alarm_source", "site", "node", "device", "point", "condition"),)

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
    active: Mapped[bool]
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    history: Mapped[list[AlarmEventRecord]] = relationship(
        back_populates="alarm", order_by="AlarmEventRecord.id"
    )


class AlarmEventRecord(Base):
    """An append-only history line of an alarm: raised, cleared, returned, acknowledged..."""

    __tablename__ = "alarm_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    by: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    alarm: Mapped[AlarmRecord] = relationship(back_populates="history")


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

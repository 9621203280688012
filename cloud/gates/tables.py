"""The parking tables: cards and their history, card list versions, which version each gate runs,
gate passes as the gates reported them, and vehicles registered at the booth."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base, utcnow


class CardRecord(Base):
    """A card (一卡一车). Dates are never edited: an extension is a new record (`replaces_id`)
    and the old one is set expired. A number is live (not expired) on one record at a time."""

    __tablename__ = "cards"
    __table_args__ = (
        Index(
            "uq_card_live",
            "site",
            "card",
            unique=True,
            sqlite_where=text("status != 'expired'"),
            postgresql_where=text("status != 'expired'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    card: Mapped[str] = mapped_column(String(64))
    holder: Mapped[str] = mapped_column(String(120))
    unit: Mapped[str | None] = mapped_column(String(64))  # unit / room, e.g. 3-1502
    plates: Mapped[list[str]] = mapped_column(JSON, default=list)
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    lanes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    notes: Mapped[str | None] = mapped_column(Text)
    reported_lost_at: Mapped[datetime | None]
    reported_lost_by: Mapped[str | None] = mapped_column(String(120))
    # The first card list version that carried the loss: when each gate loaded it is the block.
    lost_in_version: Mapped[int | None] = mapped_column(BigInteger)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__: ClassVar = {"version_id_col": version}


class CardEventRecord(Base):
    """What was done to a card, by whom and when: issued, edited, lost, suspended, extended."""

    __tablename__ = "card_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    by: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class CardListVersion(Base):
    """A version of a site's card list: every change to its cards makes a new one."""

    __tablename__ = "card_list_versions"
    __table_args__ = (UniqueConstraint("site", "version", name="uq_card_list_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(String(200))


class GateListStatus(Base):
    """The card list version a gate node decides from, and when it loaded it."""

    __tablename__ = "gate_list_status"
    __table_args__ = (UniqueConstraint("site", "node", name="uq_gate_list_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(BigInteger)
    loaded_at: Mapped[datetime]  # the gate's clock when it had the list
    count: Mapped[int | None]


class GateListLoad(Base):
    """Every card list a gate loaded: how long after a loss report each gate had the block."""

    __tablename__ = "gate_list_loads"
    __table_args__ = (Index("ix_gate_list_loads", "site", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(BigInteger)
    loaded_at: Mapped[datetime]


class GatePassRecord(Base):
    """A gate's decision on a read, or an opening from the console, as the gate reported it."""

    __tablename__ = "gate_passes"
    __table_args__ = (
        Index("ix_gate_passes_at", "site", "at"),
        Index("ix_gate_passes_card", "site", "card", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(4))
    reader: Mapped[str | None] = mapped_column(String(64))
    card: Mapped[str | None] = mapped_column(String(64))
    card_type: Mapped[str | None] = mapped_column(String(16))
    allowed: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(32))
    violation: Mapped[bool] = mapped_column(default=False)
    list_version: Mapped[int | None] = mapped_column(BigInteger)
    decide_ms: Mapped[float | None] = mapped_column(Float)
    relay_confirmed: Mapped[bool | None]
    by: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]  # the gate's clock
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class VehicleRegistration(Base):
    """A stranger vehicle registered at the booth (陌生车辆登记), and whether it was let through."""

    __tablename__ = "vehicle_registrations"
    __table_args__ = (Index("ix_vehicle_registrations_at", "site", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(4))
    plate: Mapped[str] = mapped_column(String(16))
    driver: Mapped[str | None] = mapped_column(String(120))
    purpose: Mapped[str] = mapped_column(String(32))  # visit, unloading, delivery, other
    notes: Mapped[str | None] = mapped_column(Text)
    pass_id: Mapped[int | None] = mapped_column(ForeignKey("gate_passes.id"))  # the denied read
    let_through: Mapped[bool]
    by: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(default=utcnow)

"""The sealed-records table: append-only in the database, and chained by hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base


class SealedRecord(Base):
    """A record as it was signed. `hash` covers its content and the previous record's hash, so a
    change to any stored record (or one taken out) breaks the chain from there on."""

    __tablename__ = "sealed_records"
    __table_args__ = (
        UniqueConstraint("seq", name="uq_sealed_seq"),
        # Two sealers racing for the same predecessor: the second one is refused and retries.
        UniqueConstraint("prev_hash", name="uq_sealed_prev"),
        Index("ix_sealed_kind", "site", "kind", "ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    site: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # handover, inspection
    ref: Mapped[str] = mapped_column(String(64))  # the id of what was sealed, in its own table
    body: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly as hashed
    sealed_at: Mapped[datetime]
    sealed_by: Mapped[str] = mapped_column(String(400))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

"""The relational telemetry tables: raw samples, their 1-minute roll-ups, and samples parked for InfluxDB."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base

# Telemetry ids run past 2**31 within weeks at a few thousand samples a second, so PostgreSQL
# gets BIGINT; SQLite's rowid is 64-bit already and autoincrements only as INTEGER.
RowId = BigInteger().with_variant(Integer(), "sqlite")


class RawSample(Base):
    """A reading as the edge sent it, kept until the downsampler rolls it into its minute.
    No unique key: an event and a telemetry sample may carry the same reading twice."""

    __tablename__ = "telemetry_raw"
    __table_args__ = (
        Index("ix_telemetry_raw_point", "site", "node", "device", "point", "ts"),
        Index("ix_telemetry_raw_ts", "ts"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    point: Mapped[str] = mapped_column(String(64))
    ts: Mapped[int] = mapped_column(BigInteger)  # ms since the epoch, the edge's read time
    value: Mapped[float] = mapped_column(Float)


class MinuteSample(Base):
    """The readings of one point in one minute (`bucket`: its first ms): min, average, max, count.
    `count` lets a late reading of an already rolled minute be merged in exactly."""

    __tablename__ = "telemetry_1m"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    point: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    min: Mapped[float] = mapped_column(Float)
    avg: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(BigInteger)


class ParkedSample(Base):
    """A sample InfluxDB did not take when it came in; written to InfluxDB later, in id order,
    and deleted only once InfluxDB has it."""

    __tablename__ = "telemetry_parked"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    point: Mapped[str] = mapped_column(String(64))
    ts: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Float)

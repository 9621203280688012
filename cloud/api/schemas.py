"""Response models of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _FromRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DeviceOut(_FromRecord):
    device: str
    online: bool
    reason: str | None
    changed_at: datetime


class NodeOut(BaseModel):
    site: str
    node: str
    name: str
    online: bool
    boot: int
    software: str | None
    config_hash: str | None
    last_seen: datetime | None
    devices: list[DeviceOut]


class PointOut(_FromRecord):
    site: str
    node: str
    device: str
    point: str
    label: str | None = None
    unit: str | None = None
    value: Any
    quality: str
    source_ts: int
    updated_at: datetime


class DeadLetterOut(_FromRecord):
    id: int
    received_at: datetime
    topic: str
    reason: str
    payload_preview: str


class CardReadOut(_FromRecord):
    site: str
    node: str
    reader: str
    reader_name: str | None = None
    location: str | None = None
    role: str | None = None
    lane: str | None = None
    direction: str | None = None
    card: str
    format: str
    source_ts: int
    received_at: datetime


class GapOut(BaseModel):
    """A range of a stream's seqs the cloud has not stored (and that was not dead-lettered)."""

    site: str
    node: str
    stream: str
    first_missing: int
    last_missing: int
    count: int
    since: datetime = Field(description="when the first stored message after the gap arrived")
    age_s: float = Field(description="seconds since `since`; a young gap may still be filled")


class GapSummaryOut(BaseModel):
    """A node's most recently active stream: how much of 1..highest_seq is stored or missing."""

    site: str
    node: str
    stream: str | None = Field(description="null when the node has sent nothing yet")
    highest_seq: int
    stored: int
    missing: int
    gaps: int

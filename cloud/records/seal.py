"""Seal a record into the hash chain, read it back, and verify the whole chain.

Each sealed record's hash is SHA-256 over the previous record's hash and its own fields in a
fixed order, its content as canonical JSON. Verifying recomputes every hash from the first
record: an edited field, a deleted or inserted record, or a reordering is found, and named.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.records.tables import SealedRecord

GENESIS = "0" * 64


def canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def record_hash(
    prev_hash: str,
    seq: int,
    site: str,
    kind: str,
    ref: str,
    sealed_at: datetime,
    sealed_by: str,
    body: str,
) -> str:
    fields = [prev_hash, str(seq), site, kind, ref, sealed_at.isoformat(), sealed_by, body]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def seal(
    session: Session, site: str, kind: str, ref: str, body: dict[str, Any], by: str, at: datetime
) -> SealedRecord:
    """Append `body` to the chain in the session's transaction; it can never change after."""
    last = session.scalar(select(SealedRecord).order_by(SealedRecord.seq.desc()).limit(1))
    prev_hash, seq = (last.hash, last.seq + 1) if last is not None else (GENESIS, 1)
    text = canonical(body)
    at = at.replace(microsecond=0)  # what every backend stores exactly
    record = SealedRecord(
        seq=seq,
        site=site,
        kind=kind,
        ref=ref,
        body=text,
        sealed_at=at,
        sealed_by=by[:400],
        prev_hash=prev_hash,
        hash=record_hash(prev_hash, seq, site, kind, ref, at, by[:400], text),
    )
    session.add(record)
    session.flush()
    return record


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    kind: str
    ref: str
    problem: str

    def __str__(self) -> str:
        return f"record {self.seq} ({self.kind} {self.ref}): {self.problem}"


def verify(session: Session) -> tuple[int, list[ChainProblem]]:
    """Check every sealed record; returns how many were checked and what is wrong."""
    problems: list[ChainProblem] = []
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for record in session.scalars(select(SealedRecord).order_by(SealedRecord.seq)):
        count += 1

        def note(problem: str, record: SealedRecord = record) -> None:
            problems.append(ChainProblem(record.seq, record.kind, record.ref, problem))

        if record.seq != expected_seq:
            note(f"expected record {expected_seq} here: a record was removed or inserted")
        if record.prev_hash != prev_hash:
            note("does not follow the record before it (its link was changed)")
        actual = record_hash(
            record.prev_hash,
            record.seq,
            record.site,
            record.kind,
            record.ref,
            record.sealed_at.replace(microsecond=0),
            record.sealed_by,
            record.body,
        )
        if actual != record.hash:
            note("its content does not match its hash: it was changed after sealing")
        prev_hash, expected_seq = record.hash, record.seq + 1
    return count, problems

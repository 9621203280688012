"""Bulk import of cards from CSV: every good row is imported, every bad row is reported with its
line number and what is wrong with it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.gates.cards import CardRefused, _add, _log, bump_version
from cloud.gates.fields import CardFields, end_of_day
from sitewatch.siteconfig import Site

COLUMNS = (
    "card",
    "holder",
    "unit",
    "plates",
    "type",
    "valid_from",
    "valid_until",
    "lanes",
    "notes",
)
MAX_ROWS = 20_000


@dataclass
class RowError:
    line: int
    card: str | None
    message: str


@dataclass
class ImportResult:
    imported: list[int] = field(default_factory=list)  # ids of the new card records
    errors: list[RowError] = field(default_factory=list)


def _split(value: str | None) -> list[str]:
    return [part for part in (value or "").replace(";", " ").replace(",", " ").split() if part]


def _when(value: str | None, end: bool) -> datetime | None:
    if not value or not value.strip():
        return None
    text = value.strip()
    moment = datetime.fromisoformat(text)
    return end_of_day(moment) if end and len(text) == 10 else moment


def _fields(row: dict[str, str | None]) -> CardFields:
    lanes = _split(row.get("lanes"))
    try:
        valid_from = _when(row.get("valid_from"), end=False)
        valid_until = _when(row.get("valid_until"), end=True)
    except ValueError as exc:
        raise CardRefused(f"a date is not YYYY-MM-DD or YYYY-MM-DDTHH:MM: {exc}") from None
    return CardFields(
        card=(row.get("card") or "").strip(),
        holder=(row.get("holder") or "").strip(),
        unit=(row.get("unit") or "").strip() or None,
        plates=_split(row.get("plates")),
        type=(row.get("type") or "").strip(),  # type: ignore[arg-type]
        valid_from=valid_from,
        valid_until=valid_until,
        lanes=lanes or None,
        notes=(row.get("notes") or "").strip() or None,
    )


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in problem['loc']) or 'row'}: {problem['msg']}"
        for problem in error.errors()
    )


def _unreadable(reader: csv.DictReader, exc: csv.Error) -> RowError:
    return RowError(reader.line_num or 1, None, f"not readable as CSV, import stopped here: {exc}")


def _rows(reader: csv.DictReader, result: ImportResult) -> Iterator[dict[str, str]]:
    """The rows, until one the csv module cannot read (a field over its 128 KiB limit, a stray
    quote in strict mode): that one is reported as a row error and ends the import, where it
    used to escape as csv.Error and make the API answer 500."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            result.errors.append(_unreadable(reader, exc))
            return
        yield row


def import_cards(session: Session, site: Site, text: str, by: str) -> ImportResult:
    """Import the rows of `text` (CSV with a header naming COLUMNS; card, holder, type needed)."""
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        result.errors.append(_unreadable(reader, exc))
        return result
    missing = {"card", "holder", "type"} - set(header or ())
    if missing:
        result.errors.append(
            RowError(
                1,
                None,
                f"the header lacks column(s) {', '.join(sorted(missing))}; "
                f"columns: {', '.join(COLUMNS)}",
            )
        )
        return result
    unknown = set(header or ()) - set(COLUMNS)
    if unknown:
        result.errors.append(RowError(1, None, f"unknown column(s): {', '.join(sorted(unknown))}"))
        return result
    for index, row in enumerate(_rows(reader, result)):
        line = reader.line_num
        if index >= MAX_ROWS:
            result.errors.append(
                RowError(line, None, f"more than {MAX_ROWS} rows: import in parts")
            )
            break
        number = (row.get("card") or "").strip() or None
        try:
            fields = _fields(row)
            with session.begin_nested():
                card = _add(session, site, fields, by)
                _log(session, card, "imported", by, line=line)
            result.imported.append(card.id)
        except ValidationError as exc:
            result.errors.append(RowError(line, number, _describe(exc)))
        except (CardRefused, IntegrityError) as exc:
            message = str(exc) if isinstance(exc, CardRefused) else f"card {number} already issued"
            result.errors.append(RowError(line, number, message))
    if result.imported:
        bump_version(session, site.id, f"{len(result.imported)} cards imported")
    return result

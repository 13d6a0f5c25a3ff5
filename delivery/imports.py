"""Bulk import of a suppression list: every line validated exactly as a webhook item, then queued for the
worker (which delivers at each destination's rate). Streams with bounded memory; idempotent through the
dedup rule with a window wide enough to cover earlier runs of the same file."""

import csv
import io
import json
import sqlite3
from dataclasses import dataclass, field

from errors import Invalid, RelayError
from schemas.inbound import CANONICAL, canonical, normal

BATCH = 500
MAX_ERRORS_KEPT = 1000  # the summary lists at most this many bad lines; the count covers all


@dataclass
class Summary:
    """What an import did: lines read, rows queued, duplicates skipped, invalid lines (with a sample)."""

    read: int = 0
    queued: int = 0
    duplicates: int = 0
    invalid: int = 0
    errors: list = field(default_factory=list)

    def bad(self, line, errors):
        self.invalid += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append({"line": line, "errors": errors})

    def as_dict(self, dry_run=False):
        return {"read": self.read, "queued": self.queued, "duplicates": self.duplicates,
                "invalid": self.invalid, "dry_run": dry_run, "invalid_lines": self.errors}


def records(stream):
    """(line number, fields) for each line of CSV (a header of field aliases, or one address per line) or
    JSON Lines; (line number, Invalid) for a line that cannot be read."""
    first = stream.readline()
    if first.lstrip().startswith("{"):
        yield from _json_lines(first, stream)
        return
    header = next(csv.reader([first]), [])
    if any(normal(name) in CANONICAL for name in header):
        rows, offset = csv.DictReader(stream, fieldnames=header), 1
    else:
        rows, offset = csv.reader(_chain(first, stream)), 0
    for row in rows:
        if not row:
            continue
        if isinstance(row, dict):
            fields = {k: v for k, v in row.items() if k is not None}
        else:
            fields = {"email" if "@" in row[0] else "phone": row[0].strip()}
        yield rows.line_num + offset, fields


def _chain(first, stream):
    yield first
    yield from stream


def _json_lines(first, stream):
    for number, line in enumerate(_chain(first, stream), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        yield number, (value if isinstance(value, dict) else Invalid({"_line": ["Not a JSON object."]}))


class Seen:
    """The (target, destination, group) a dry run has met, in a private temporary SQLite database on disk
    (deleted when closed): a set in memory grew by 200 bytes a line, past 100 MB for 100,000 lines."""

    def __init__(self):
        self.db = sqlite3.connect("")  # "": a temporary database on disk, SQLite's own page cache in memory
        self.db.execute("CREATE TABLE seen (target TEXT, destination TEXT, grp TEXT, "
                        "PRIMARY KEY (target, destination, grp)) WITHOUT ROWID")

    def add(self, planned):
        """True when this delivery was not met before (and now is)."""
        return self.db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)",
                               (planned.target, planned.destination, planned.group or "")).rowcount == 1

    def close(self):
        self.db.close()


class Importer:
    """Feeds records to the delivery service in batches."""

    def __init__(self, service, to="all", defaults=None, window_seconds=30 * 86400, dry_run=False):
        self.service, self.to, self.dry_run, self.window = service, to, dry_run, window_seconds
        self.defaults = {k: v for k, v in (defaults or {}).items() if v is not None}
        self.summary, self.pending, self.seen = Summary(), [], Seen() if dry_run else None

    def run(self, stream, progress=None):
        """Import every record of a text stream; returns the Summary."""
        try:
            for number, fields in records(stream):
                self.summary.read += 1
                self._take(number, fields)
                if progress is not None:
                    progress(number)
                if len(self.pending) >= BATCH:
                    self._flush()
            self._flush()
        finally:
            if self.seen is not None:
                self.seen.close()
        return self.summary

    def _take(self, number, fields):
        if isinstance(fields, Invalid):
            self.summary.bad(number, fields.errors)
            return
        try:
            plan = self.service.plan([(number, {**self.defaults, **canonical(fields)})], to=self.to)
        except RelayError as exc:  # Invalid (a bad line) or NotConfigured (refused before the loop)
            self.summary.bad(number, exc.errors or {"_line": [exc.message]})
            return
        for planned in plan.plans:
            if self.dry_run and not self.seen.add(planned):  # nothing is written: the file's own repeats
                self.summary.duplicates += 1
                continue
            self.pending.append(planned)

    def _flush(self):
        batch, self.pending = self.pending, []
        if not batch:
            return
        # A dry run asks the ledger what it already holds, as the import's dedup would.
        if self.dry_run:
            queued = self.service.count_new(batch, self.window)
        else:
            queued = self.service.queue(batch, self.window)
        self.summary.queued += queued
        self.summary.duplicates += len(batch) - queued


def open_text(path):
    """The file as text (UTF-8, a BOM ignored), with universal newlines."""
    return io.open(path, encoding="utf-8-sig", newline="")

"""Bulk import of a suppression list: every line validated exactly as a webhook item, then queued for the
worker (which delivers at each destination's rate). Streams with bounded memory; idempotent through the
dedup rule with a window wide enough to cover earlier runs of the same file."""

import codecs
import csv
import io
import sqlite3
from dataclasses import dataclass, field

from errors import BadBody, Invalid, RelayError
from schemas.inbound import CANONICAL, canonical, normal
from schemas.jsontext import load_json_text

BATCH = 500
MAX_ERRORS_KEPT = 1000  # the summary lists at most this many bad lines; the count covers all
CHUNK = 1 << 20  # bytes read at a time by the encoding check
# UTF-32's little-endian mark begins with UTF-16's: the longer marks are compared first.
BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"))
NEWLINE, NUL = b"\n", b"\0"
SAVE_AS = "save it as UTF-8 (\"CSV UTF-8\" in Excel) and import it again; nothing was queued"


class Unreadable(Exception):
    """The file is not UTF-8 text: refused as a whole, before any line is queued."""


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
        """The summary; `lines` and `deliveries` say the units (a line queues one delivery per destination),
        the flat keys are the same figures as before."""
        return {"read": self.read, "queued": self.queued, "duplicates": self.duplicates,
                "invalid": self.invalid, "dry_run": dry_run,
                "lines": {"read": self.read, "invalid": self.invalid},
                "deliveries": {"queued": self.queued, "duplicates": self.duplicates},
                "invalid_lines": self.errors}


def records(stream):
    """(line number, fields) for each line of CSV (a header of field aliases, or one address per line) or
    JSON Lines; (line number, Invalid) for a line that cannot be read, and the lines after it go on."""
    first = stream.readline()
    if first.lstrip().startswith("{"):
        yield from _json_lines(first, stream)
        return
    try:
        header = next(csv.reader([first]), [])
    except csv.Error:  # an unreadable first line is no header: it is reported as line 1 below
        header = []
    if any(normal(name) in CANONICAL for name in header):
        lines = Counted(stream, 1)
        rows = csv.DictReader(lines, fieldnames=header)
    else:
        lines = Counted(_chain(first, stream), 0)
        rows = csv.reader(lines)
    for row in _csv_rows(rows, lines):
        if isinstance(row, Invalid):
            yield lines.number, row
            continue
        if not row:
            continue
        if isinstance(row, dict):
            fields = {k: v for k, v in row.items() if k is not None}
        else:
            fields = {"email" if "@" in row[0] else "phone": row[0].strip()}
        yield lines.number, fields


class Counted:
    """The lines handed to a csv reader, numbered here: the reader's line_num lags behind when it raises."""

    def __init__(self, lines, number):
        self.lines, self.number = iter(lines), number

    def __iter__(self):
        return self

    def __next__(self):
        line = next(self.lines)
        self.number += 1
        return line


def _csv_rows(rows, lines):
    """The reader's rows; a line it refuses (a field over csv's 128 KiB limit...) as Invalid. The reader
    starts afresh on the next line after an error, so one bad line costs only itself."""
    while True:
        before = lines.number
        try:
            yield next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            if lines.number == before:  # nothing was consumed: stop rather than spin
                return
            yield Invalid({"_line": [f"Not a readable CSV line: {exc}."]})


def _chain(first, stream):
    yield first
    yield from stream


def _json_lines(first, stream):
    for number, line in enumerate(_chain(first, stream), 1):
        if not line.strip():
            continue
        try:
            value = load_json_text(line)  # nesting is bounded: 100,000 brackets are a bad line, not a crash
        except BadBody as exc:
            yield number, Invalid({"_line": [exc.message]})
            continue
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

    def add(self, delivery):
        """True when this delivery was not met before (and now is)."""
        return self.db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)",
                               (delivery.target, delivery.destination, delivery.group or "")).rowcount == 1

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
            deliveries = self.service.plan([(number, {**self.defaults, **canonical(fields)})], to=self.to,
                                           channel="import", auth="operator")
        except RelayError as exc:  # Invalid (a bad line) or NotConfigured (refused before the loop)
            self.summary.bad(number, exc.errors or {"_line": [exc.message]})
            return
        for delivery in deliveries:
            if self.dry_run and not self.seen.add(delivery):  # nothing is written: the file's own repeats
                self.summary.duplicates += 1
                continue
            self.pending.append(delivery)

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


def check_utf8(path):
    """Refuse, before anything is queued, a file that is not UTF-8 (with or without a BOM): a UTF-16 or
    UTF-32 one, NUL bytes (UTF-16 without its mark) or bytes UTF-8 cannot decode. Raises Unreadable.
    Returns how many lines the file holds (the last one counts without its newline): the progress bar's
    total, from the same pass."""
    with io.open(path, "rb") as raw:
        head = raw.read(4)
        for bom, name in BOMS:
            if head.startswith(bom):
                raise Unreadable(f"the file is {name} text (it starts with a {name} byte order mark): "
                                 f"{SAVE_AS}")
        raw.seek(0)
        return _check_bytes(raw)


def _check_bytes(raw):
    """Decode the whole file chunk by chunk (memory stays bounded); the first bad byte is named by line.
    Returns the number of lines."""
    decoder, line, last = codecs.getincrementaldecoder("utf-8")(), 1, NEWLINE
    while chunk := raw.read(CHUNK):
        held = len(decoder.getstate()[0])  # bytes of a character split across two chunks
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            at = line + chunk.count(NEWLINE, 0, max(exc.start - held, 0))
            raise Unreadable(f"line {at} is not UTF-8 text: {SAVE_AS}") from None
        if NUL in chunk:
            at = line + chunk.count(NEWLINE, 0, chunk.index(NUL))
            raise Unreadable(f"line {at} holds a NUL byte, as UTF-16 or UTF-32 text does: {SAVE_AS}")
        line, last = line + chunk.count(NEWLINE), chunk[-1:]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise Unreadable(f"the file ends inside a character (line {line}): {SAVE_AS}") from None
    return line - 1 + (last != NEWLINE)


def open_text(path):
    """The file as text (UTF-8, a BOM ignored), with universal newlines; check_utf8 first."""
    return io.open(path, encoding="utf-8-sig", newline="")

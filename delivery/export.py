"""The audit export: one record per delivery with when it was received, every attempt, and when and with
what code the vendor confirmed it; as CSV or JSON Lines, streamed (the CLI prints it, the console serves it).
Only rows of the process's own mode are exported: sandbox rows are never proof of a live opt-out.

A CSV cell is text a spreadsheet may run: one that begins like a formula (= + - @, a tab or a carriage
return; a group named =HYPERLINK(...), an address beginning with -) is written with a leading apostrophe,
and every field is quoted (OWASP, CSV injection). JSON Lines carries the values as they are.
"""

import csv
import io
import json
from datetime import datetime

from status import DONE

FORMATS = ("csv", "jsonl")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("delivery_id", "received_at", "destination", "target", "group", "status", "outcome",
               "confirmed_at", "confirmed_code", "attempt_count", "attempts", "channel", "auth_method",
               "request_received_at", "readback", "readback_at")


def _iso(value):
    return value.isoformat() + "Z" if isinstance(value, datetime) else value


def _record(delivery, attempts):
    """One export record: the delivery, its attempts in order, the vendor's confirmation when it is done."""
    done = delivery["status"] == DONE
    return {"delivery_id": delivery["id"], "received_at": _iso(delivery["created_at"]),
            "destination": delivery["destination"], "target": delivery["target"], "group": delivery["group"],
            "status": delivery["status"], "outcome": delivery["outcome"],
            "confirmed_at": _iso(delivery["completed_at"]) if done else None,
            "confirmed_code": delivery["last_code"] if done else None,
            "attempt_count": delivery["attempts"],
            # Where the opt-out came from and what the vendor's read-back said (issue 20); the older names
            # above keep their meaning (received_at: accepted by the ledger; confirmed_at: the vendor's
            # answer to the unsubscribe call).
            "channel": delivery.get("channel"), "auth_method": delivery.get("auth_method"),
            "request_received_at": _iso(delivery.get("received_at")),
            "readback": delivery.get("confirmation"), "readback_at": _iso(delivery.get("confirmed_at")),
            "attempts": [{"number": a["number"], "at": _iso(a["started_at"]), "duration_ms": a["duration_ms"],
                          "sender": a["sender"], "outcome": a["outcome"], "code": a["code"],
                          "text": a["text"]}
                         for a in attempts]}


def export_rows(operations, since=None, until=None, target=None):
    """Yield one record (a dict) per delivery received in [since, until) (naive UTC), oldest first."""
    store = operations.store
    for delivery, attempts in store.export(since, until, target):
        yield _record(delivery, attempts)


def neutralised(value):
    """A CSV cell a spreadsheet shows as text: a leading apostrophe before what would start a formula."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _csv_line(values):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL).writerow(map(neutralised, values))
    return buffer.getvalue()


def export_lines(operations, fmt="csv", since=None, until=None, target=None):
    """Yield the export as text lines (each ending in a newline): CSV with a header row, attempts as one
    JSON column; or JSON Lines with attempts as a list."""
    records = export_rows(operations, since, until, target)
    if fmt == "jsonl":
        for record in records:
            yield json.dumps(record, ensure_ascii=False) + "\n"
        return
    yield _csv_line(CSV_COLUMNS)
    for record in records:
        record["attempts"] = json.dumps(record["attempts"], ensure_ascii=False)
        yield _csv_line(record[column] for column in CSV_COLUMNS)

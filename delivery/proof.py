"""One person's proof: every opt-out of an address in time order, what each destination's vendor answered
(verified) and whether its read-back confirms the person is off the list now. What an operator hands the
person or a regulator who asks (issue 20). `proof_document` is pure; `rows_for` is its one read."""

from datetime import date, datetime

from connectors.errors import UpstreamError
from connectors.registry import vendor
from status import CONFIRMED, FAILED, NOT_SUBSCRIBED, PENDING, STILL_SUBSCRIBED, SUCCESSES

SANDBOX = "sandbox"
NOT_RECORDED = "not recorded"  # a field this row predates (stored before migration 0008)


def _error_kinds(cls=UpstreamError):
    yield cls
    for sub in cls.__subclasses__():
        yield from _error_kinds(sub)


# An attempt's answer is the vendor's own (signed or echoing what we sent) unless its error says otherwise:
# no answer, a rate limit or a forged signature proves nothing about the person.
UNVERIFIED_KINDS = frozenset(cls.kind for cls in _error_kinds() if not cls.verified)


def rows_for(reports, address):
    """Every live delivery of `address` (any case), oldest first, each with `attempt_history`."""
    return reports.proof(address)


def title_of(destination):
    """The vendor's name as people write it (JustClick), or the destination's own."""
    try:
        return vendor(destination).title or destination
    except KeyError:  # a vendor no longer registered: its old rows still count
        return destination


def _attempt(attempt):
    return {"number": attempt["number"], "at": attempt["started_at"], "sender": attempt["sender"],
            "outcome": attempt["outcome"], "code": attempt.get("code"), "text": attempt.get("text") or "",
            "verified": attempt.get("error_kind") not in UNVERIFIED_KINDS,
            "error_kind": attempt.get("error_kind")}


def _confirmation(row):
    # A row from before the read-back (migration 0008) has neither a read-back nor a received time.
    if "confirmation" not in row or (row.get("confirmation") is None and row.get("received_at") is None):
        return NOT_RECORDED
    return {"state": row.get("confirmation"), "at": row.get("confirmed_at"),
            "detail": row.get("confirmation_detail") or "", "until": row.get("confirmed_until"),
            "due_at": row.get("confirm_due_at"), "attempts": row.get("confirm_attempts") or 0}


def _when(moment):
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if isinstance(moment, datetime) else str(moment or "-")


def summary(row, title):
    """One line a person reads: where this destination stands now."""
    status, outcome, code = row["status"], row.get("outcome"), row.get("last_code")
    confirmation = _confirmation(row)
    state = confirmation["state"] if isinstance(confirmation, dict) else None
    if state == CONFIRMED:
        until = f", temporarily until {confirmation['until']}" if confirmation["until"] else ""
        return f"confirmed by {title} on {_when(confirmation['at'])}{until}"
    if status == FAILED:
        why = (outcome or FAILED).replace("_", " ")
        return f"still failing at {title}: {why}" + (f" (code {code})" if code else "")
    if status == PENDING and state == STILL_SUBSCRIBED:
        return f"{title} accepted it, but its read-back still lists the address as subscribed: sent again"
    if status == PENDING:
        tries = row.get("attempts") or 0
        return f"not delivered to {title} yet; still failing after {tries} attempts" if tries \
            else f"queued for {title}; not sent yet"
    if outcome not in SUCCESSES:
        return f"{title} answered {(outcome or status).replace('_', ' ')}"
    done = "not on any list" if outcome == NOT_SUBSCRIBED else outcome.replace("_", " ")
    done = f"{done} at {title} on {_when(row.get('completed_at'))}"
    if state == STILL_SUBSCRIBED:
        return f"{done}; but its read-back still lists the address as subscribed"
    if confirmation == NOT_RECORDED:
        return f"{done}; read-back not recorded"
    if state is None and confirmation["due_at"] is None:
        return f"{done}; no read-back (the vendor offers none, or it was off)"
    return f"{done}; read-back pending"


def _destination(row):
    title = title_of(row["destination"])
    return {"destination": row["destination"], "vendor": title, "delivery_id": row["id"],
            "group": row.get("group_name"), "campaign": row.get("campaign"), "state": row["status"],
            "outcome": row.get("outcome"), "accepted_at": row.get("created_at"),
            "completed_at": row.get("completed_at"),
            "attempts": [_attempt(a) for a in row.get("attempt_history") or []],
            "confirmation": _confirmation(row), "summary": summary(row, title)}


def _received(row):
    return row.get("received_at") or row["created_at"]


def _item_order(row):
    return row.get("item_index") or 0, row["destination"]


def _opt_out(rows):
    first = min(rows, key=_received)
    return {"request_id": first["request_id"], "received_at": _received(first),
            "received_recorded": first.get("received_at") is not None,
            "channel": first.get("channel") or NOT_RECORDED,
            "event": (first.get("options") or {}).get("event"),  # a vendor's own opt-out (delivery/events.py)
            "auth_method": first.get("auth_method") or NOT_RECORDED,
            "destinations": [_destination(row) for row in sorted(rows, key=_item_order)]}


def proof_document(address, rows, now):
    """{address, generated_at, opt_outs: [...]} from the ledger's rows of one address (a row: a delivery
    with `attempt_history`). One opt-out per request, oldest first; sandbox rows are never proof."""
    by_request = {}
    for row in rows:
        if row.get("mode") != SANDBOX:
            by_request.setdefault(row["request_id"], []).append(row)
    opt_outs = sorted((_opt_out(group) for group in by_request.values()),
                      key=lambda o: (o["received_at"], o["request_id"]))
    return {"address": address, "generated_at": now, "opt_outs": opt_outs}


def proof_for(reports, address):
    """The proof document of `address` as the ledger holds it now."""
    return proof_document(address, rows_for(reports, address), reports.store.now())


def jsonable(value):
    """The document with its times as ISO 8601 UTC strings (`Z`), as the JSON download and --json print it."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _confirmation_line(confirmation):
    if not isinstance(confirmation, dict):
        return f"read-back: {confirmation}"
    if confirmation["state"] is None:
        return f"read-back: none yet (due {_when(confirmation['due_at'])})" if confirmation["due_at"] \
            else "read-back: none"
    until = f", until {confirmation['until']}" if confirmation["until"] else ""
    return (f"read-back: {confirmation['state']} at {_when(confirmation['at'])}"
            f" ({confirmation['detail'] or 'no detail'}{until})")


def proof_lines(doc):
    """The document as plain text, one line each: what `flask deliveries proof` prints."""
    lines = [f"Opt-outs of {doc['address']} (as of {_when(doc['generated_at'])}): {len(doc['opt_outs'])}"]
    for n, opt_out in enumerate(doc["opt_outs"], 1):
        received = _when(opt_out["received_at"]) + ("" if opt_out["received_recorded"] else " (accepted)")
        made = opt_out.get("event") or {}
        made = f" (made at {made['vendor']}: {made['method']} at {made['date'] or '-'})" if made else ""
        lines += ["", f"{n}. received {received}; channel {opt_out['channel']}{made}; authenticated by "
                      f"{opt_out['auth_method']}; request {opt_out['request_id']}"]
        for dest in opt_out["destinations"]:
            lines.append(f"   {dest['vendor']}: {dest['summary']}  [delivery {dest['delivery_id']}]")
            lines += [f"     attempt {a['number']} {_when(a['at'])} by {a['sender']}: {a['outcome']}, "
                      f"code {a['code'] or '-'} {a['text']!r}" + ("" if a["verified"] else " (unverified)")
                      for a in dest["attempts"]]
            lines.append(f"     {_confirmation_line(dest['confirmation'])}")
    return lines

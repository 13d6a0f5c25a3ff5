"""The words of every alert: what happened, since when, how many, what to do. Addresses masked, secrets
scrubbed, vendor texts cut short; times in UTC."""

from collections import Counter

from delivery.notify import Message
from masking import mask

LISTED = 5  # deliveries named in a summary
TEXT_LIMIT = 200
TITLE = "unsub-relay: "


def when(moment):
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "unknown"


def hours(seconds):
    return f"{seconds / 3600:.0f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def clean(text, target, secrets):
    """A vendor's text without the person's address or any configured secret, on one short line."""
    text = " ".join(str(text or "").split())
    if target:
        text = text.replace(str(target), mask(target))
    for secret in secrets:
        text = text.replace(secret, "***")
    return text[:TEXT_LIMIT]


def _advice(row):
    if row["error_kind"] == "expired":
        return (f"The retry window ran out. Once {row['destination']} works again, replay it: "
                f"`flask deliveries replay {row['id']}` (or `--failed` for all).")
    return (f"Check {row['destination']}'s credentials, IP allow-list and signature settings "
            f"(`flask check --online`), then replay it: `flask deliveries replay {row['id']}`.")


def failed_delivery(key, row, secrets):
    reason = "dead-lettered: its retry window ran out" if row["error_kind"] == "expired" else \
        f"failed ({row['error_kind']})"
    body = "\n".join([
        f"What: the unsubscribe of {mask(row['target'])} at {row['destination']} {reason}: "
        f"{clean(row['last_code'], None, secrets) or '-'} {clean(row['last_text'], row['target'], secrets)}",
        f"Since: accepted {when(row['created_at'])}, given up {when(row['completed_at'])}.",
        "How many: this delivery (id " + row["id"] + ").",
        "What to do: " + _advice(row)])
    return Message(key, f"{TITLE}delivery to {row['destination']} {reason.split(':')[0]}", body, "failure")


def failed_summary(key, rows, secrets):
    kinds = Counter((row["destination"], row["error_kind"]) for row in rows)
    listed = [f"- {row['id'][:12]} {mask(row['target'])} at {row['destination']} ({row['error_kind']}): "
              f"{clean(row['last_text'], row['target'], secrets)[:80]}" for row in rows[:LISTED]]
    body = "\n".join([
        f"What: {len(rows)} deliveries failed: "
        + ", ".join(f"{n} at {dest} ({kind})" for (dest, kind), n in sorted(kinds.items())) + ".",
        *listed, *([f"- ... and {len(rows) - LISTED} more"] if len(rows) > LISTED else []),
        f"Since: {when(min(r['completed_at'] for r in rows))}.",
        f"How many: {len(rows)}.",
        "What to do: see them with `flask deliveries list --status failed`; fix the destination "
        "(`flask check --online`), then `flask deliveries replay --failed`."])
    return Message(key, f"{TITLE}{len(rows)} deliveries failed", body, "failure")


def breaker_open(key, name, gate):
    body = "\n".join([
        f"What: {name} keeps failing; its circuit breaker opened "
        f"({gate.get('reason') or 'repeated failures'}). "
        "Webhooks are still accepted and queued; the worker probes it now and then.",
        f"Since: {when(gate['opened_at'])}.",
        "How many: see the backlog in /readyz (breakers, store.oldest_pending_seconds).",
        f"What to do: check {name}'s status page and our network; nothing to replay: queued deliveries "
        "go out by themselves when it answers again."])
    return Message(key, f"{TITLE}{name} unreachable (breaker open)", body, "warning")


def destination_failing(key, name, activity, repeated):
    again = "still " if repeated else ""
    body = "\n".join([
        f"What: {name} is {again}refusing our configuration (credentials, IP or signature).",
        f"Since: {when(activity['first_failure'])} (last failure {when(activity['last_failure'])}).",
        f"How many: {activity['failures']} failed attempt(s) since the last message.",
        f"What to do: run `flask check --online`, fix {name}'s settings, then "
        "`flask deliveries replay --failed`."])
    return Message(key, f"{TITLE}{name} {again}failing: configuration", body, "failure")


def recovered(key, name, last, success):
    cause = "its breaker closed" if last["kind"] == "breaker_open" else "the configuration failures stopped"
    body = "\n".join([
        f"What: {name} delivers again; {cause}.",
        f"Since: {when(success)} (the problem was reported {when(last['created_at'])}).",
        f"How many: {last['count']} failure(s) in the last report.",
        "What to do: replay what failed meanwhile: `flask deliveries replay --failed`."])
    return Message(key, f"{TITLE}{name} recovered", body, "success")


def pending_age(key, created_at, age_seconds, pending, max_age_seconds):
    body = "\n".join([
        f"What: the oldest pending unsubscribe is over {hours(age_seconds)} old "
        f"(the limit is {hours(max_age_seconds)}).",
        f"Since: accepted {when(created_at)}.",
        f"How many: {pending} pending.",
        "What to do: make sure a worker runs (`flask worker`) and see /readyz for an open breaker; "
        "`flask deliveries list --status pending` shows what waits."])
    return Message(key, f"{TITLE}backlog over {hours(age_seconds)} old", body, "warning")


def worker_silent(key, seen, overdue, due_since):
    last = when(seen["last_claim_at"]) if seen and seen["last_claim_at"] else "never"
    body = "\n".join([
        "What: deliveries are due and no worker has claimed any for over 5 minutes.",
        f"Since: due since {when(due_since)}; last claim {last}"
        + (f"; last heartbeat {when(seen['seen_at'])}." if seen else "; no worker ever reported."),
        f"How many: {overdue} due.",
        "What to do: start or restart the worker (`flask worker`, the Procfile's worker line) and check "
        "its logs."])
    return Message(key, f"{TITLE}worker silent", body, "failure")

"""The words of every alert: what happened, since when, how many, what to do. Addresses masked, secrets
scrubbed, vendor texts cut short; times in UTC."""

import dataclasses
import re

from delivery.notify import Message
from masking import mask

TEXT_LIMIT = 200
TITLE = "unsub-relay: "


def branded(message, brand):
    """The message with the operator's brand (BRAND_NAME) in its title, so a team serving several senders
    knows whose relay speaks: "unsub-relay (Acme): worker silent". Unchanged without a brand."""
    if not brand or not message.title.startswith(TITLE):
        return message
    return dataclasses.replace(message, title=f"{TITLE[:-2]} ({brand}): {message.title[len(TITLE):]}")


def when(moment):
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "unknown"


def hours(seconds):
    return f"{seconds / 3600:.0f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def clean(text, target, secrets):
    """A vendor's text without the person's address or any configured secret, on one short line."""
    text = " ".join(str(text or "").split())
    if target:  # in any case: a vendor may echo the address upper-cased
        masked = mask(target)
        text = re.sub(re.escape(str(target)), lambda _: masked, text, flags=re.IGNORECASE)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text[:TEXT_LIMIT]


WHAT = {
    "configuration": "{name} {again}refuses our configuration (credentials, IP allow-list or signature)",
    "verification": "{name}'s answers {again}fail verification (signed with another secret than ours, or "
                    "altered on the way)",
    "expired": "deliveries to {name} were {again}dead-lettered: their retry window ran out",
    "still_subscribed": "{name} {again}accepted opt-outs but its read-back still lists the contacts as "
                        "subscribed, after every resend (CONFIRM_RESENDS): the duty to stop mailing them is "
                        "not met",
}
TODO = {
    "configuration": "run `flask check --online`, fix {name}'s settings, then "
                     "`flask deliveries replay --failed`.",
    "verification": "check {name}'s secret (`flask check --online`), fix it, then "
                    "`flask deliveries replay --failed`.",
    "expired": "once {name} answers again (see /readyz), replay them: `flask deliveries replay --failed`.",
    "still_subscribed": "unsubscribe these contacts in {name}'s own interface now (or stop the mailing), ask "
                        "{name}'s support why its unsubscribe call does not take, and keep each person's "
                        "proof (`flask deliveries proof ADDRESS`).",
}


def _example(row, secrets):
    code = clean(row["last_code"], None, secrets) or "-"
    text = clean(row["last_text"], row["target"], secrets)
    return f"- {row['id'][:12]} {mask(row['target'])} at {when(row['completed_at'])}: {code} {text[:80]}"


def failures(key, name, cause, group, repeated, secrets):
    """Deliveries to one destination that failed for one cause since the previous message: one message,
    however many, with the count and a few examples (addresses masked, secrets scrubbed)."""
    count, again = group["count"], "still " if repeated else ""
    examples = [_example(row, secrets) for row in group["examples"]]
    more = count - len(examples)
    body = "\n".join([
        "What: " + WHAT[cause].format(name=name, again=again) + ". For example:",
        *examples, *([f"- ... and {more} more"] if more > 0 else []),
        f"Since: {when(group['first'])} (last {when(group['last'])}).",
        f"How many: {count} failed deliver{'y' if count == 1 else 'ies'} since the last message.",
        "What to do: " + TODO[cause].format(name=name)])
    what = {"expired": "dead-lettered", "still_subscribed": f"{again}not taking opt-outs"}.get(
        cause, f"{again}failing: {cause}")
    return Message(key, f"{TITLE}{name} {what} ({count} deliver{'y' if count == 1 else 'ies'})", body,
                   "failure")


def limit_store_down(key, since, repeated):
    again = "still " if repeated else ""
    body = "\n".join([
        f"What: the rate-limit store (Redis, RATE_LIMIT_STORAGE_URI) {again}does not answer. Webhooks are "
        "still accepted; rate limits are counted without it meanwhile, and the delivery rate in the ledger.",
        f"Since: {when(since)}.",
        "How many: every check of the worker since then failed.",
        "What to do: check the Redis server or add-on (is it up, full, reachable from here?); "
        "a message follows when it answers again."])
    return Message(key, f"{TITLE}rate-limit store {again}not answering", body, "warning")


def limit_store_up(key, since, now):
    body = "\n".join([
        "What: the rate-limit store (Redis, RATE_LIMIT_STORAGE_URI) answers again.",
        f"Since: {when(now)} (it stopped answering {when(since)}).",
        "How many: -",
        "What to do: nothing; rate limits are shared through it again."])
    return Message(key, f"{TITLE}rate-limit store recovered", body, "success")


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

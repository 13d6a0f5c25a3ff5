"""POST actions (CSRF-checked by the blueprint's guard): replay one delivery, replay a destination's
failed deliveries after a confirmation, the live credential check. Each one goes in the operator log."""

import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import ngettext

from console.pages import DELIVERY_ID
from delivery import DESTINATIONS

log = logging.getLogger("unsub_relay.console")
# What a replayed delivery came to, by (state, outcome), as a sentence rather than "failed, failed".
REPLAYED = {"done": "delivered, {outcome}", "pending": "not delivered yet; it stays queued for the worker",
            "failed": "it failed again"}


def replayed(row):
    """The flash after one replay: what it came to, with the vendor's code."""
    what = REPLAYED.get(row["status"], row["status"]).format(outcome=(row["outcome"] or "").replace("_", " "))
    code = f" (code {row['last_code']})" if row["last_code"] else ""
    return f"Replayed: {what}{code}. Its attempts are below."


def _destination(name):
    if name not in DESTINATIONS:
        abort(404, "There is no such destination.")
    return name


class Actions:
    """What an operator does from the console: through `operations` (replay, the credential check) and
    `reports` (a destination's failed deliveries, the operator log)."""

    def __init__(self, reports, operations):
        self.reports, self.operations = reports, operations

    def register(self, bp):
        bp.add_url_rule("/deliveries/<delivery_id>/replay", "replay", self.replay, methods=["POST"])
        bp.add_url_rule("/destinations/<name>/replay", "confirm_replay", self.confirm_replay)
        bp.add_url_rule("/destinations/<name>/replay", "replay_destination", self.replay_destination,
                        methods=["POST"])
        bp.add_url_rule("/check", "online_check", self.online_check, methods=["POST"])

    def replay(self, delivery_id):
        """Send this one delivery again now (Operations.replay: leased by id, sent, recorded; nothing else
        that is due goes with it), then show it with its new attempt."""
        row = self.reports.delivery(delivery_id) if DELIVERY_ID.fullmatch(delivery_id) else None
        if row is None:
            abort(404, "No delivery has that id.")
        count = self.operations.replay([row["id"]], seen=request.form.get("attempts", type=int))
        after = self.reports.delivery(row["id"])
        result = (f"{count} replayed: {after['status']} ({after['outcome'] or '-'}, "
                  f"code {after['last_code'] or '-'})")
        self.reports.record("replay", row["id"], result)
        log.info("console replay id=%s sent=%d result=%s", row["id"], count, after["status"])
        flash(replayed(after) if count else
              "Not replayed: it was sent meanwhile (see its attempts), is being sent right now, or its "
              "destination is not configured.")
        return redirect(url_for("console.delivery", delivery_id=row["id"]), 303)

    def confirm_replay(self, name):
        """How many failed deliveries a destination has, and a button to replay them all."""
        count = self.reports.failed_count(_destination(name))
        return render_template("console/confirm.html", destination=name, count=count)

    def replay_destination(self, name):
        """Make every failed delivery of the destination due again; the worker sends them."""
        expected = request.form.get("expected", type=int)  # what the confirmation showed, for the log
        count = self.reports.requeue_failed(_destination(name))
        result = f"{count} made due again (confirmed for {'?' if expected is None else expected})"
        self.reports.record("replay_destination", name, result)
        log.info("console replay destination=%s count=%d", name, count)
        flash(ngettext("%(num)d failed %(name)s delivery is due again: the worker sends it at the "
                       "destination's rate.",
                       "%(num)d failed %(name)s deliveries are due again: the worker sends them at the "
                       "destination's rate.", count, name=name))
        return redirect(url_for("console.overview"), 303)

    def online_check(self):
        """Ask each configured vendor whether it accepts our credentials and IP (Operations.online_check)."""
        checks = self.operations.online_check()
        result = "; ".join(f"{c['destination']}: {'ok' if c['ok'] else 'NOT ok'}: {c['message']}"
                           for c in checks)
        entry = self.reports.record("online_check", None, result or "no destination configured")
        log.info("console online check: %s",
                 " ".join(f"{c['destination']}={c['ok']}" for c in checks) or "none")
        flash("Credential check done: see the first line below.")
        return redirect(url_for("console.operator_log", shown=entry), 303)

"""The console's pages: overview, search, one delivery, the operator log.

What reaches a page is the store's own values (datetimes stay datetimes); every query argument is checked
first, and one that is not ours is a 400 page, never a traceback."""

import re

from flask import abort, redirect, render_template, request, session, url_for

from console import formats
from console.search import cursor_of, filters_of, parse_cursor, query_of, read_form

DELIVERY_ID = re.compile(r"[0-9a-f]{6,32}")
LOG_ID = re.compile(r"[1-9][0-9]{0,9}")  # an operator-log id: ASCII digits within the column's range
MAX_LOG_ID = 2**31 - 1  # INTEGER on both databases
PAGE_SIZE = 50


def log_id(name):
    """The operator-log id in query argument `name`, None when absent; 400 when it is not one."""
    text = request.args.get(name, "")
    if not text:
        return None
    if not LOG_ID.fullmatch(text) or int(text) > MAX_LOG_ID:
        abort(400, "That is not an entry of the operator log.")
    return int(text)


class Pages:
    """The console's pages over `reports`; `access` holds the session (and the address it searched for),
    `secrets` are the configured credentials, shown as *** wherever a payload holds one."""

    def __init__(self, access, reports, secrets):
        self.access, self.reports, self.secrets = access, reports, secrets

    def register(self, bp):
        bp.add_url_rule("/", "overview", self.overview)
        bp.add_url_rule("/search", "search_post", self.search_post, methods=["POST"])
        bp.add_url_rule("/search", "search", self.search)
        bp.add_url_rule("/deliveries/<delivery_id>", "delivery", self.delivery)
        bp.add_url_rule("/log", "operator_log", self.operator_log)

    def overview(self):
        data = self.reports.overview()
        peak, bars = formats.bars(data["series"])
        gauge = formats.gauge(data["oldest_age"], data["alert_seconds"], data["compliance_seconds"])
        worker = data["worker"]
        worker_age = (data["now"] - worker["seen_at"]).total_seconds() if worker else None
        return render_template("console/overview.html", data=data, peak=peak, bars=bars, gauge=gauge,
                               chart=formats, worker=worker, worker_age=worker_age)

    def search_post(self):
        """Keep the typed address with the session, in the ledger; show the results at a URL without it."""
        form = read_form(request.form, request.form.get("address", "").strip())
        if not form.validate():
            return render_template("console/search.html", form=form, rows=None), 400
        self.access.sessions.remember_search(self.access.session_digest(session["sid"]),
                                             form.address.data or "")
        return redirect(url_for("console.search", **query_of(form)), 303)

    def search(self):
        address = (self.access.current_session()["search_address"] or "") \
            if request.args.get("address") == "1" else ""  # kept with the session, never in the URL
        form = read_form(request.args, address)
        older, newer = request.args.get("older"), request.args.get("newer")
        cursor = parse_cursor(older or newer) if (older or newer) else None
        if not form.validate() or ((older or newer) and cursor is None):
            page = render_template("console/search.html", form=form, rows=None, bad_cursor=cursor is None)
            return page, 400
        rows, more = self.reports.search(filters_of(form), cursor, bool(newer), PAGE_SIZE)
        base = query_of(form)
        links = {}
        if rows and (newer or more):  # paging back from newer rows: older ones exist
            links["older"] = url_for("console.search", **base, older=cursor_of(rows[-1]))
        if rows and (older or (newer and more)):
            links["newer"] = url_for("console.search", **base, newer=cursor_of(rows[0]))
        return render_template("console/search.html", form=form, rows=rows, links=links,
                               first=url_for("console.search", **base) if cursor else None)

    def delivery(self, delivery_id):
        """Every field, every attempt in order, and the request the delivery came from (this mode's rows)."""
        if not DELIVERY_ID.fullmatch(delivery_id):
            abort(404, "No delivery has that id.")
        row = self.reports.delivery(delivery_id)
        if row is None:
            abort(404, "No delivery has that id (or the prefix is not unique).")
        origin = self.reports.request(row["request_id"])
        payload = {k: ("***" if str(v) in self.secrets else v) for k, v in (row.get("payload") or {}).items()}
        return render_template("console/delivery.html", row=row, payload=payload, origin=origin)

    def operator_log(self):
        before, shown = log_id("before"), log_id("shown")
        entries, more = self.reports.log_page(before, PAGE_SIZE)
        older = url_for("console.operator_log", before=entries[-1]["id"]) if more else None
        return render_template("console/log.html", entries=entries, older=older, shown=shown)

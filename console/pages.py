"""The console's pages: overview, search, one delivery, the operator log."""

import re

from flask import abort, current_app, redirect, render_template, request, session, url_for

from console import formats
from console.search import cursor_of, filters_of, parse_cursor, query_of, read_form
from console.web import bp

DELIVERY_ID = re.compile(r"[0-9a-f]{6,32}")
PAGE_SIZE = 50


def worker_seen():
    """When a worker was last seen (its heartbeat), or None where this version has no heartbeat."""
    seen = getattr(current_app.extensions["operations"], "worker_seen", None)
    value = seen() if seen else None
    return value.get("seen_at") if isinstance(value, dict) else value


@bp.get("/")
def overview():
    reports = current_app.extensions["reports"]
    data = reports.overview()
    peak, bars = formats.bars(data["series"])
    gauge = formats.gauge(data["oldest_age"], data["alert_seconds"], data["compliance_seconds"])
    seen = worker_seen()
    heartbeat = hasattr(current_app.extensions["operations"], "worker_seen")
    return render_template("console/overview.html", data=data, peak=peak, bars=bars, gauge=gauge,
                           chart=formats, heartbeat=heartbeat, worker_seen=seen,
                           worker_age=(data["now"] - seen).total_seconds() if seen else None)


@bp.post("/search")
def search_post():
    """Keep the typed address in the signed session and show the results at a URL without it."""
    form = read_form(request.form, request.form.get("address", "").strip())
    if not form.validate():
        return render_template("console/search.html", form=form, rows=None), 400
    session["search_address"] = form.address.data or ""
    return redirect(url_for("console.search", **query_of(form)), 303)


@bp.get("/search")
def search():
    address = session.get("search_address", "") if request.args.get("address") == "1" else ""
    form = read_form(request.args, address)
    older, newer = request.args.get("older"), request.args.get("newer")
    cursor = parse_cursor(older or newer) if (older or newer) else None
    if not form.validate() or ((older or newer) and cursor is None):
        return render_template("console/search.html", form=form, rows=None, bad_cursor=cursor is None), 400
    rows, more = current_app.extensions["reports"].search(filters_of(form), cursor, bool(newer), PAGE_SIZE)
    base = query_of(form)
    links = {}
    if rows and (newer or more):  # paging back from newer rows: older ones exist
        links["older"] = url_for("console.search", **base, older=cursor_of(rows[-1]))
    if rows and (older or (newer and more)):
        links["newer"] = url_for("console.search", **base, newer=cursor_of(rows[0]))
    return render_template("console/search.html", form=form, rows=rows, links=links,
                           first=url_for("console.search", **base) if cursor else None)


@bp.get("/deliveries/<delivery_id>")
def delivery(delivery_id):
    """Every field, every attempt in order, and the request the delivery came from."""
    if not DELIVERY_ID.fullmatch(delivery_id):
        abort(404, "No delivery has that id.")
    row = current_app.extensions["operations"].show(delivery_id)
    if row is None:
        abort(404, "No delivery has that id (or the prefix is not unique).")
    origin = current_app.extensions["reports"].request(row["request_id"])
    scrub = current_app.config["SETTINGS"].secrets
    payload = {k: ("***" if str(v) in scrub else v) for k, v in (row.get("payload") or {}).items()}
    return render_template("console/delivery.html", row=row, payload=payload, origin=origin)


@bp.get("/log")
def operator_log():
    before = request.args.get("before", "")
    if before and not before.isdigit():
        abort(400, "That is not a page of the operator log.")
    entries, more = current_app.extensions["reports"].log_page(int(before) if before else None, PAGE_SIZE)
    older = url_for("console.operator_log", before=entries[-1]["id"]) if more else None
    return render_template("console/log.html", entries=entries, older=older,
                           shown=request.args.get("shown", type=int))

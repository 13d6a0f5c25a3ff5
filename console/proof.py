"""The console's "Proof" page: one person's opt-outs as printable HTML and as a JSON download.

The console's own links name a delivery (`?delivery=<id>`) or the address kept with the session by a
search (`?address=1`), so the address stays out of the URLs it makes; `?address=<the address>` also works
for an operator who types it. The access log never holds a query string (serving/accesslog.py), and the
operator log and the app log hold only the masked address."""

import json
import logging

from flask import Response, abort, render_template, request

from console.pages import DELIVERY_ID
from delivery.proof import jsonable, proof_for
from masking import mask
from schemas.fields import CONTROL

log = logging.getLogger("unsub_relay.console")
MAX_ADDRESS = 320  # the ledger's target column
FROM_SEARCH = "1"  # ?address=1: the address the operator's last search kept with the session


class ProofPages:
    """`/console/proof` and `/console/proof.json` over `reports`; `access` holds the session."""

    def __init__(self, access, reports):
        self.access, self.reports = access, reports

    def register(self, bp):
        bp.add_url_rule("/proof", "proof", self.page)
        bp.add_url_rule("/proof.json", "proof_json", self.download)

    def address(self):
        """The address asked about, from the query; 400 when none is given or it cannot be one."""
        delivery_id = request.args.get("delivery", "")
        if delivery_id:
            row = self.reports.delivery(delivery_id) if DELIVERY_ID.fullmatch(delivery_id) else None
            if row is None:
                abort(404, "No delivery has that id.")
            return row["target"]
        text = request.args.get("address", "").strip()
        if text == FROM_SEARCH:
            text = (self.access.current_session() or {}).get("search_address") or ""
        if not text or len(text) > MAX_ADDRESS or CONTROL.search(text):
            abort(400, "Give an address (up to 320 characters, no control characters), or open the proof "
                       "from a delivery or a search.")
        return text

    def proof(self, form):
        """The document for the asked address, recorded in the operator log (masked); 404 when none."""
        address = self.address()
        doc = proof_for(self.reports, address)
        count = len(doc["opt_outs"])
        deliveries = sum(len(o["destinations"]) for o in doc["opt_outs"])
        self.reports.record("proof_viewed", mask(address),
                            f"{count} opt-outs, {deliveries} deliveries, as {form}" if count else
                            f"no opt-out found, as {form}")
        log.info("console proof viewed address=%s opt_outs=%d as=%s", mask(address), count, form)
        if not count:
            abort(404, "No opt-out of that address is in the ledger (an exact address, any case; sandbox "
                       "deliveries are never proof).")
        return doc

    def page(self):
        doc = self.proof("html")
        return render_template("console/proof.html", doc=doc,
                               download_args={k: v for k, v in request.args.items()
                                              if k in ("delivery", "address")})

    def download(self):
        doc = self.proof("json")
        day = doc["generated_at"].strftime("%Y%m%d")
        body = json.dumps(jsonable(doc), ensure_ascii=False, indent=2)
        return Response(body, mimetype="application/json", headers={
            "Content-Disposition": f'attachment; filename="opt-out-proof-{day}.json"'})

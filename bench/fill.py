"""Queue N unsubscribes in the ledger (as `Prefer: respond-async` would), for the backlog scenario."""

import json
import sys

from app import create_app
from schemas.shapes import Delivery


def main(count):
    app = create_app()
    ledger = app.extensions["unsub_relay"].service.store.ledger
    for start in range(0, count, 200):
        plans = [Delivery("justclick", f"backlog-{i}@example.com",
                          {"lead_email": f"backlog-{i}@example.com", "rass_name": "Main"}, "Main", index=i)
                 for i in range(start, min(start + 200, count))]
        ledger.accept(plans, dedup=False)  # distinct addresses anyway: skip the look-up
    print(json.dumps({"queued": count}))


if __name__ == "__main__":
    main(int(sys.argv[1]))

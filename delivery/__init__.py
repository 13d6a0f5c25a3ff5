"""The delivery room: the one service every entry point uses to reach the vendors."""

import logging

from connectors.registry import NAMES as DESTINATIONS  # noqa: F401 - the edge names vendors by these
from connectors.registry import build_connectors
from connectors.turnstile import Turnstile
from delivery.operations import Operations
from delivery.service import DeliveryService
from store import Store

log = logging.getLogger("unsub_relay.store")
EXIT_BOOT_FAILED = 3  # gunicorn stops (no restart loop) when a worker exits with this code at boot


def ensure_schema(store):
    """Migrate at process start (AUTO_MIGRATE); on failure one clear line and the process stops."""
    try:
        before, after = store.migrate()
    except Exception as exc:  # any failure: the process must not serve on a ledger it cannot use
        log.error("could not migrate the ledger (%s: %s): check DATABASE_URL; the process stops",
                  type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "")
        raise SystemExit(EXIT_BOOT_FAILED) from None
    if before != after:
        log.info("ledger schema migrated from %s to %s", before or "empty", after)


def init_app(app):
    """Build the store (lazily connected), the connectors and the service; expose them to the edge."""
    settings = app.config["SETTINGS"]
    store = Store(settings)
    if settings.auto_migrate:
        ensure_schema(store)
    service = DeliveryService(settings, store, build_connectors(settings.vendors, settings.upstream_timeout))
    app.extensions["delivery"] = service
    app.extensions["operations"] = Operations(service)
    if settings.turnstile_secret:  # the edge asks it about public form submissions
        app.extensions["botcheck"] = Turnstile(settings.turnstile_secret, settings.turnstile_verify_url)

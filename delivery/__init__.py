"""The delivery room: the one service every entry point uses to reach the vendors, and the Relay that hands
it (with what the edges need beside it) to each room."""

import logging
from dataclasses import dataclass
from typing import Any

from connectors.registry import NAMES as DESTINATIONS  # noqa: F401 - the edge names vendors by these
from connectors.registry import build_connectors, read_back_names
from connectors.turnstile import Turnstile
from delivery.operations import Operations
from delivery.reports import Reports
from delivery.service import DeliveryService
from store import Store

log = logging.getLogger("unsub_relay.store")
EXIT_BOOT_FAILED = 3  # gunicorn stops (no restart loop) when a worker exits with this code at boot
EXTENSION = "unsub_relay"  # app.extensions[EXTENSION]: the relay, for tests and the command line only


@dataclass(frozen=True)
class Relay:
    """What one app's edges use, built once by app.py; each room's init_app takes it and hands its views
    exactly the parts they use (views never look anything up)."""

    settings: Any
    service: DeliveryService
    operations: Operations
    reports: Reports
    console_sessions: Any  # the ledger's console sessions (a cookie's digest -> its session)
    login_failures: Any  # the ledger's per-client console lockout
    bot_check: Any  # Turnstile when TURNSTILE_SECRET is set, else None
    link_signer: Any  # links.tokens.LinkSigner when LINK_SECRETS is set, else None
    limits: Any  # edge.limits.CallerLimits (the edge builds it: this room does not import the edge)


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


def build_relay(settings, link_signer, limits):
    """The store (lazily connected), the connectors, the service and what the edges ask of it."""
    connectors = build_connectors(settings.vendors, settings.upstream_timeout)
    store = Store(settings, read_back=frozenset(connectors) & set(read_back_names()))
    if settings.auto_migrate:
        ensure_schema(store)
    service = DeliveryService(settings, store, connectors)
    bot_check = Turnstile(settings.turnstile_secret, settings.turnstile_verify_url) \
        if settings.turnstile_secret else None  # the edge asks it about public form submissions
    return Relay(settings=settings, service=service, operations=Operations(service), reports=Reports(service),
                 console_sessions=store.console_sessions, login_failures=store.login_failures,
                 bot_check=bot_check, link_signer=link_signer, limits=limits)

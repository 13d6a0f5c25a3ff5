"""The durable ledger: engine, ledger, relay and worker wiring for the app."""

from store.db import make_engine
from store.ledger import Ledger
from store.relay import Relay


def init_app(app):
    """Create the engine (lazily connected), the ledger and the relay; register the CLI."""
    from store import cli

    settings = app.config["SETTINGS"]
    engine = make_engine(settings.database_url)
    ledger = Ledger(engine, retry_base=settings.retry_base_seconds,
                    retry_max_age=settings.retry_max_age_seconds,
                    dedup_window=settings.dedup_window_seconds)
    app.extensions["ledger"] = ledger
    app.extensions["relay"] = Relay(ledger, app.extensions["dispatcher"], settings.upstream_timeout)
    cli.init_app(app)

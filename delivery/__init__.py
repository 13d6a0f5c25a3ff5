"""The delivery room: the one service every entry point uses to reach the vendors."""

from connectors.registry import NAMES as DESTINATIONS  # noqa: F401 - the edge names vendors by these
from connectors.registry import build_connectors
from delivery.operations import Operations
from delivery.service import DeliveryService
from store import Store


def init_app(app):
    """Build the store (lazily connected), the connectors and the service; expose them to the edge."""
    settings = app.config["SETTINGS"]
    store = Store(settings)
    service = DeliveryService(settings, store, build_connectors(settings.vendors, settings.upstream_timeout))
    app.extensions["delivery"] = service
    app.extensions["operations"] = Operations(service)

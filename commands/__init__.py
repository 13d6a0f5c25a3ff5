"""The command line: thin wrappers over the delivery service and its operations."""

from commands import deliveries, links, sandbox, unsubscribe


def init_app(app):
    """Register every command."""
    unsubscribe.init_app(app)
    deliveries.init_app(app)
    sandbox.init_app(app)
    links.init_app(app)

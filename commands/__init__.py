"""The command line: thin wrappers over the delivery service and its operations."""

from functools import update_wrapper

from flask import current_app
from flask.cli import with_appcontext

from delivery import EXTENSION


def pass_relay(command):
    """Call `command` with the loaded app's Relay as its first argument. Click commands are module-level
    objects and `flask` hands them the app only through its context: this is the command line's one
    look-up, so the functions below it take what they use as arguments."""
    def with_relay(*args, **kwargs):
        return command(current_app.extensions[EXTENSION], *args, **kwargs)
    return with_appcontext(update_wrapper(with_relay, command))


def init_app(app):
    """Register every command."""
    from commands import deliveries, links, sandbox, unsubscribe

    unsubscribe.init_app(app)
    deliveries.init_app(app)
    sandbox.init_app(app)
    links.init_app(app)

"""The upstream connectors, built from settings into a plain dict by destination name."""

from connectors.justclick import JustClick
from connectors.mailkit import Mailkit

DESTINATIONS = ("justclick", "mailkit")
REQUIRED = {
    "justclick": ("JUSTCLICK_LOGIN", "JUSTCLICK_SECRET"),
    "mailkit": ("MAILKIT_CLIENT_ID", "MAILKIT_CLIENT_MD5"),
}


def missing(settings):
    """The environment variables each destination still needs, by destination."""
    values = {
        "JUSTCLICK_LOGIN": settings.justclick_login, "JUSTCLICK_SECRET": settings.justclick_secret,
        "MAILKIT_CLIENT_ID": settings.mailkit_client_id, "MAILKIT_CLIENT_MD5": settings.mailkit_client_md5,
    }
    return {name: [var for var in REQUIRED[name] if not values[var]] for name in DESTINATIONS}


def build_connectors(settings):
    """One connector per configured destination."""
    gaps = missing(settings)
    connectors = {}
    if not gaps["justclick"]:
        connectors["justclick"] = JustClick(settings.justclick_login, settings.justclick_secret,
                                            settings.justclick_url, settings.upstream_timeout)
    if not gaps["mailkit"] and settings.mailkit_client_id.isdigit():
        connectors["mailkit"] = Mailkit(settings.mailkit_client_id, settings.mailkit_client_md5,
                                        settings.mailkit_url, settings.upstream_timeout,
                                        transport=settings.mailkit_transport)
    return connectors

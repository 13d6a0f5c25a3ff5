"""Signed one-click unsubscribe links: tokens (tokens.py), and URLs and headers (make.py)."""

from links.make import link_url, list_unsubscribe_headers, make_link, parse_duration
from links.tokens import DESTINATIONS, InvalidLink, LinkClaims, LinkSigner

__all__ = ["DESTINATIONS", "InvalidLink", "LinkClaims", "LinkSigner", "link_url", "list_unsubscribe_headers",
           "make_link", "parse_duration"]

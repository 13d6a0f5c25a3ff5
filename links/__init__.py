"""Signed one-click unsubscribe links: tokens (tokens.py), and URLs and headers (make.py)."""

from links.make import link_url, list_unsubscribe_headers, make_link, vendor_problem
from links.tokens import InvalidLink, LinkClaims, LinkSigner

__all__ = ["InvalidLink", "LinkClaims", "LinkSigner", "link_url", "list_unsubscribe_headers", "make_link",
           "vendor_problem"]

"""gunicorn's logger with nothing personal or secret in it: no query values, no email address, no link
token, no forged lines.

With GUNICORN_ACCESSLOG on, gunicorn's default format logged the request line with its query string
(form senders put `?token=` and one-click unsubscribes `?email=` there), /u/<token> paths (a working
unsubscribe link) and the referer whole.
"""

import logging
import re
from urllib.parse import parse_qsl, urlsplit

from gunicorn.glogging import Logger

from edge.logs import hide_link_tokens
from masking import mask

SAFE_ATOMS = set("hltrsmUqHbBfaTDMLp")  # gunicorn's one-letter atoms; `u` (a Basic-auth user) is left out
SAFE_HEADERS = {"{user-agent}i", "{content-type}i", "{content-length}i", "{x-request-id}i"}
EMAIL = re.compile(r"[^\s/?&=@\"']+@[^\s/?&=@\"']+")
QUERY_VALUE = re.compile(r"([?&][^=&\s\"']*=)[^&\s\"']*")
CONTROL = re.compile(r"[\x00-\x1f\x7f\"\\]")


def printable(text):
    """One line whatever the client sent: control characters, quotes and backslashes escaped."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def scrub(text):
    """Query values replaced by *, link tokens hidden, email addresses masked, all on one printable line."""
    text = hide_link_tokens(QUERY_VALUE.sub(r"\1*", text))
    return printable(EMAIL.sub(lambda m: mask(m.group()), text))


def query_names(query):
    """The query string with its values hidden: token=*&email=*."""
    return "&".join(f"{name}=*" for name, _ in parse_qsl(query, keep_blank_values=True))


def without_query(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else parts.path


class ScrubFilter(logging.Filter):
    """gunicorn's error log quotes bad request lines and URIs whole: scrub them before they are written."""

    def filter(self, record):
        record.msg, record.args = scrub(record.getMessage()), ()
        return True


class PrivateLogger(Logger):
    """Access-log atoms limited to safe ones, each scrubbed; the error log scrubbed too."""

    def setup(self, cfg):
        super().setup(cfg)
        if not any(isinstance(f, ScrubFilter) for f in self.error_log.filters):
            self.error_log.addFilter(ScrubFilter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = scrub(environ.get("PATH_INFO") or "")
        query = query_names(environ.get("QUERY_STRING") or "")
        safe = {key: value for key, value in atoms.items() if key in SAFE_ATOMS or key in SAFE_HEADERS}
        safe.update(U=path, q=query or "-", f=scrub(without_query(atoms["f"])), a=printable(str(atoms["a"])),
                    r=f"{atoms['m']} {path}{'?' + query if query else ''} {atoms['H']}")
        return safe

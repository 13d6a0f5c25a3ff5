"""Log lines that are safe to write: one line each, no configured secret, no link token.

A /u/<token> path is a working unsubscribe link and names its address: every path the edges log (the
app log, gunicorn's access and error logs) goes through `hide_link_tokens`, and every handler of the root
logger through `ScrubSecrets`, which hides both the configured secrets and any link token.
"""

import logging
import re
from urllib.parse import quote

MAX_LOGGED = 200
# Control characters, line and paragraph separators and lone surrogates would end or forge a log line (or
# fail to encode); the backslash is escaped too, so that an escape in the log is never ambiguous.
_UNSAFE = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0xD800, 0xE000)]
LOG_ESCAPES = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _UNSAFE}
LOG_ESCAPES[ord("\\")] = "\\\\"
# A link's path: /u/ then the token up to the end of the path (query, space, quote or line end).
LINK_TOKEN = re.compile(r"(/u/)[^\s?#\"'<>]+")
HIDDEN = "***"


def hide_link_tokens(text):
    """`text` with every /u/<token> path cut to /u/***."""
    return LINK_TOKEN.sub(r"\1" + HIDDEN, text)


def log_safe(text, limit=MAX_LOGGED):
    """`text` as one harmless piece of a log line: control characters escaped, at most `limit` characters."""
    text = str(text)
    cut = len(text) - limit
    text = text[:limit].translate(LOG_ESCAPES)
    return f"{text}...(+{cut} chars)" if cut > 0 else text


def log_path(path):
    """A request path for a log line: percent-encoded (no control character, no plain address), link
    tokens hidden, at most MAX_LOGGED characters."""
    return log_safe(hide_link_tokens(quote(path or "")))


class ScrubSecrets(logging.Filter):
    """Defence in depth: any configured secret in a message or traceback becomes ***, any link token too."""

    def __init__(self, secrets):
        super().__init__()
        self.secrets = tuple(sorted(set(secrets), key=len, reverse=True))

    def scrub(self, text):
        for secret in self.secrets:
            text = text.replace(secret, HIDDEN)
        return hide_link_tokens(text)

    def filter(self, record):
        message = record.getMessage()
        clean = self.scrub(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
        return True


def init_logging(settings):
    """Log to stderr at INFO, with every handler of the root logger scrubbing this app's secrets."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Alembic says "Context impl ..." at every start and a line per migration (about 40 lines that pushed
    # the sandbox's banner off the screen); its warnings and errors still show, and the store logs one line
    # "ledger schema migrated from X to Y" itself.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, ScrubSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(ScrubSecrets(settings.secrets))

"""Log helpers: personal data masked, one line per webhook."""

import logging

from masking import mask

log = logging.getLogger("unsub_relay.web")
MAX_LOGGED = 200
# Control characters, line and paragraph separators and lone surrogates would end or forge a log line (or
# fail to encode); the backslash is escaped too, so that an escape in the log is never ambiguous.
_UNSAFE = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0xD800, 0xE000)]
LOG_ESCAPES = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _UNSAFE}
LOG_ESCAPES[ord("\\")] = "\\\\"


def log_safe(text, limit=MAX_LOGGED):
    """`text` as one harmless piece of a log line: control characters escaped, at most `limit` characters."""
    text = str(text)
    cut = len(text) - limit
    text = text[:limit].translate(LOG_ESCAPES)
    return f"{text}...(+{cut} chars)" if cut > 0 else text


class ScrubSecrets(logging.Filter):
    """Defence in depth: any configured secret in a message or traceback becomes ***."""

    def __init__(self, secrets):
        super().__init__()
        self.secrets = tuple(sorted(set(secrets), key=len, reverse=True))

    def scrub(self, text):
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record):
        if not self.secrets:
            return True
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
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, ScrubSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(ScrubSecrets(settings.secrets))


def webhook_line(route, source, auth, outcomes, http, duration_ms, targets):
    """The one log line per webhook: route, source, outcome per destination, upstream code, duration."""
    results = " ".join(
        f"{o.destination}:{o.status}:{log_safe(o.code or '-', 40)}:{mask(targets.get(o.index))}"
        for o in outcomes)
    log.info("webhook route=%s source=%s auth=%s http=%d duration_ms=%.1f results=[%s]",
             log_safe(route), source, auth, http, duration_ms, results)

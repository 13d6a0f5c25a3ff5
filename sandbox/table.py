"""What the sandbox answers, as a newcomer reads it: the banner `flask sandbox` prints, with the table of
address markers. tests/test_sandbox_walk.py walks this table, top to bottom, against the simulators, so the
table cannot promise what the service does not do.
"""

# (address, what the webhook gets: HTTP status and answer status, why). Walked in this order.
MARKERS = (
    ("anna@example.com", 200, "unsubscribed", "JustClick code 0, Mailkit status 1"),
    ("anna+notfound@example.com", 200, "not_subscribed", "no such contact (JustClick 801)"),
    ("anna+down@example.com", 202, "queued", "HTTP 503: the worker retries this address, 30 s, 1 min, ..."),
    ("anna+ratelimit@example.com", 202, "queued", "JustClick code 8, Mailkit HTTP 429: retried likewise"),
    ("anna+badhash@example.com", 502, "failed", "the answer fails verification: never retried"),
    ("anna+stillsubscribed@example.com", 200, "unsubscribed",
     "the vendors say done; their read-back still lists her: resent, then failed"),
    ("anna+slow@example.com", 200, "unsubscribed", "after 2 s (combine: anna+slow+notfound@...)"),
)

WELCOME = """
unsub-relay is running in SANDBOX mode: nothing reaches a real JustClick or Mailkit account.

  front page     http://127.0.0.1:{port}/
  health         http://127.0.0.1:{port}/readyz
  your token     {token}
                 (WEBHOOK_TOKENS: for Zapier and servers; never put it in a web page)
  form key       {form_key}
                 (FORM_KEYS: for forms in public pages, as ?key=... or a hidden field "key")

Send a first webhook:

  curl -s -X POST 'http://127.0.0.1:{port}/hooks/unsubscribe' \\
       -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
       -d '{{"email": "anna@example.com"}}'

Steer the simulators with the address (any case); each webhook gets:

{table}

A marker fails its own address only: in the sandbox the circuit breakers (which, in production, queue
every webhook for a vendor that keeps failing until it answers again) never open.
Stop with Ctrl-C.
"""


def table_text():
    """MARKERS as aligned lines."""
    width = max(len(address) for address, *_ in MARKERS)
    return "\n".join(f"  {address:<{width}}  {code} {status:<15} {why}"
                     for address, code, status, why in MARKERS)


def banner(port, token, form_key):
    """What `flask sandbox` prints once the web process answers."""
    return WELCOME.format(port=port, token=token, form_key=form_key, table=table_text())

"""Redis dies under a running deployment: RATE_LIMIT_STORAGE_URI names a port nobody listens on, or a server
that accepts and never answers. Intake must not depend on it: webhooks, form posts and one-click links are
answered promptly and delivered; /readyz says the limit store is degraded."""

import pytest
import requests

from tests.e2e.conftest import deployed
from tests.e2e.deploy import FORM_KEY, justclick_sent, mailkit_sent, tag, timed
from tests.e2e.upstreams import SilentServer, closed_port
from tests.procs import wait_for

pytestmark = pytest.mark.slow
# Redis is given a quarter of a second before the process counts alone (edge/limitstore.py); a public request
# asks for up to two limits. 5 s is well above that and well below a hang (gunicorn's 30 s).
PROMPT_SECONDS = 5.0
DELIVERED_SECONDS = 60.0


@pytest.fixture(scope="module", params=["closed-port", "silent-server"])
def site(request, pg_url, tmp_path_factory, justclick, mailkit):
    silent = SilentServer() if request.param == "silent-server" else None
    port = silent.port if silent else closed_port()
    try:
        with deployed(f"redis-{request.param}", pg_url, tmp_path_factory.mktemp(f"e2e-{request.param}"),
                      justclick, mailkit, RATE_LIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0") as d:
            yield d
    finally:
        if silent:
            silent.stop()


def test_intake_goes_on_without_redis(site, justclick, mailkit, client_ip):
    t = tag()
    zap, reader, clicker = (f"{who}.{t}@Example.com" for who in ("Zap", "Reader", "Clicker"))
    for email in (zap, reader, clicker):
        justclick.subscribe(email, "Main")
    (link,) = site.links([{"email": clicker, "to": "justclick"}])
    public = {"X-Forwarded-For": client_ip}
    calls = {
        "webhook": lambda: site.hook({"email": zap}, timeout=30),
        "form": lambda: requests.post(f"{site.base}/hooks/unsubscribe?key={FORM_KEY}", data={"email": reader},
                                      headers={**public, "Accept": "text/html"}, allow_redirects=False, timeout=30),
        "one-click": lambda: requests.post(link["url"], data={"List-Unsubscribe": "One-Click"}, headers=public,
                                           allow_redirects=False, timeout=30),
    }
    told = {}
    for name, call in calls.items():
        answer, seconds = timed(call)
        told[name] = (getattr(answer, "status_code", repr(answer)), seconds <= PROMPT_SECONDS)
    assert told == {"webhook": (200, True), "form": (200, True), "one-click": (200, True)}

    assert wait_for(lambda: site.settled(zap, reader, clicker), DELIVERED_SECONDS)
    assert justclick_sent(justclick, {zap, reader, clicker}) == {e: ["Main"] for e in (zap, reader, clicker)}
    assert [email for email, _ in mailkit_sent(mailkit, {reader})] == [reader]

    ready, seconds = timed(site.readyz)
    assert not isinstance(ready, Exception) and seconds <= PROMPT_SECONDS, ready
    assert ready.json()["rate_limits"]["status"] == "degraded", ready.json()  # whichever web worker answers

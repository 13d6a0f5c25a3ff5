"""GET / shows what the service is and how it stands (no secrets). Its links into the documentation site are
checked against the built site in tests/test_docs.py."""

import pytest

from tests.conftest import make_worker, relay_of
from tests.procs import wait_for


@pytest.mark.parametrize("overrides, texts, absent", [
    ({}, ["unsub-relay", "justclick", "mailkit", "ready", "no worker has been seen yet"], ["Sandbox mode"]),
    ({"JUSTCLICK_LOGIN": None, "MAILKIT_CLIENT_ID": None}, ["needs attention", "no destination is configured"],
     ["Sandbox mode"]),
], ids=["configured", "nothing-configured"])
def test_front_page(make_app, env, overrides, texts, absent):
    response = make_app(**overrides).test_client().get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert all(t in page for t in texts) and not any(t in page for t in absent)
    for secret in (env["JUSTCLICK_SECRET"], env["MAILKIT_CLIENT_MD5"], "tok-primary", "old-token"):
        assert secret not in page
    assert response.headers["X-Frame-Options"] == "DENY" and "no-store" in response.headers["Cache-Control"]


def test_front_page_shows_the_worker_once_it_ran(app):
    import threading
    worker = make_worker(app)
    loop = threading.Thread(target=worker.run)
    loop.start()
    try:
        assert wait_for(lambda: relay_of(app).operations.worker_seen() is not None, 10)
    finally:
        worker.stop()
        loop.join(10)
    page = app.test_client().get("/").get_data(as_text=True)
    assert "last seen" in page and "no worker has been seen yet" not in page


import pytest

from app import create_app
from store.db import upgrade
from tests.fakes import JustClickFake, MailkitFake

TOKEN = "tok-primary-0123456789"


@pytest.fixture(scope="session")
def justclick():
    fake = JustClickFake().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def mailkit():
    fake = MailkitFake().start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def fresh_fakes(justclick, mailkit):
    for fake in (justclick, mailkit):
        fake.reset()
    justclick.groups.clear()
    justclick.groups["Main"] = set()  # the account's default group (JUSTCLICK_GROUP) exists
    mailkit.subscribed.clear()
    mailkit.unsubscribed.clear()
    mailkit.calls.clear()


@pytest.fixture
def env(justclick, mailkit, tmp_path):
    """The environment of a fully configured service pointing at the local fakes."""
    return {
        "JUSTCLICK_LOGIN": justclick.login, "JUSTCLICK_SECRET": justclick.secret,
        "JUSTCLICK_GROUP": "Main", "JUSTCLICK_API_URL": f"{justclick.base}/{{login}}/api/",
        "MAILKIT_CLIENT_ID": mailkit.client_id, "MAILKIT_CLIENT_MD5": mailkit.client_md5,
        "MAILKIT_API_URL": mailkit.url("json"), "UPSTREAM_TIMEOUT": "2",
        "WEBHOOK_TOKENS": f"old-token-xyz, {TOKEN}",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
    }


@pytest.fixture
def make_app(env):
    """Build an app from the base environment plus overrides (None removes a variable)."""
    def build(**overrides):
        merged = {**env, **overrides}
        app = create_app({k: v for k, v in merged.items() if v is not None})
        upgrade(app.extensions["ledger"].engine)
        return app
    return build


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()

from contextlib import contextmanager

import pytest

from app import create_app
from tests.fakes import JustClickFake, MailkitFake
from tests.helpers import TOKEN

# Every table a PostgreSQL test may have left rows in (a breaker left open would starve the next test).
TRUNCATE_ALL = ("TRUNCATE attempts, deliveries, webhook_requests, destination_gates, alerts, worker_heartbeats, "
                "operator_log, console_sessions, login_failures")


def relay_of(app):
    """The app's Relay (delivery/__init__.py): its settings, service, operations, reports..."""
    return app.extensions["unsub_relay"]


def store_of(app):
    """The app's Store (engine, ledger, queries, clock)."""
    return relay_of(app).service.store


def make_worker(app, sender="worker"):
    """A Worker of the app's delivery service."""
    return relay_of(app).operations.worker(sender=sender)


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
def reap_spawned():
    """Whatever a test started (tests/procs.py spawn) and did not stop is killed when it ends: a worker left
    running would take rows from the next test's database."""
    from tests import procs
    before = set(procs.STARTED)  # module fixtures (a shared gunicorn) started theirs before this: they stay
    yield
    for proc in [p for p in procs.STARTED if p not in before]:
        procs.kill(proc)


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
        "AUTO_MIGRATE": "0",  # fixtures migrate explicitly; tests of start-up turn it on
        "JUSTCLICK_MAX_RATE": "0", "MAILKIT_MAX_RATE": "0",  # no delivery rate, but in the tests of rates
    }


@pytest.fixture
def make_app(env):
    """Build an app from the base environment plus overrides (None removes a variable)."""
    built = []

    def build(**overrides):
        merged = {**env, **overrides}
        app = create_app({k: v for k, v in merged.items() if v is not None})
        store_of(app).upgrade()
        built.append(app)
        return app
    yield build
    for app in built:
        store_of(app).close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class FakeClock:
    """Naive-UTC time that tests move by hand, so no test sleeps through a backoff."""

    def __init__(self):
        from store import utcnow
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, seconds):
        from datetime import timedelta
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(store_app):
    """Put the store app's ledger on a hand-moved clock."""
    fake = FakeClock()
    store_of(store_app).clock = fake
    store_of(store_app).policy.rand = lambda: 1.0  # the top of the jitter range: deterministic delays
    return fake


def _pg_admin_url():
    import os
    return os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def throwaway_pg_database(prefix="unsub_relay_test"):
    """The URL of a new, empty PostgreSQL database, dropped afterwards; a missing server fails under CI."""
    import os
    import uuid

    import psycopg

    admin = _pg_admin_url()
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required under CI and did not answer: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {admin}: {exc}")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rsplit('/', 1)[0]}/{name}"
    finally:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this run, migrated."""
    from settings import database_url
    from store.db import make_engine, upgrade
    with throwaway_pg_database() as url:
        engine = make_engine(database_url({"DATABASE_URL": url}, "instance"))
        upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_env(request, env):
    """The base environment on SQLite, then on PostgreSQL with empty tables."""
    if request.param == "sqlite":
        return env
    import psycopg
    url = request.getfixturevalue("pg_database")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TRUNCATE_ALL)
    return {**env, "DATABASE_URL": url}


@pytest.fixture
def store_app(store_env):
    """An app on each store in turn."""
    app = create_app(store_env)
    store_of(app).upgrade()
    yield app
    store_of(app).close()

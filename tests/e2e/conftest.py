"""Fixtures of the end-to-end journeys: deployments (web + workers as the Procfile runs them), the ledger's
database, Redis, and the processes' logs shown under a failing test."""

import os
import random
from contextlib import contextmanager

import pytest

from tests.conftest import throwaway_pg_database
from tests.e2e.deploy import ACTIVE, REDIS_DB, Deployment, base_env, vendor_env
from tests.procs import free_port


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing journey shows the end of every process's log of the deployments running at that moment."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for deployment in ACTIVE:
            for name, text in deployment.logs().items():
                report.sections.append((f"{deployment.name} {name} log", text))


@pytest.fixture(scope="session")
def redis_ready():
    """Redis at 127.0.0.1:6379, or a skip (a failure under CI)."""
    import redis
    client = redis.Redis.from_url(REDIS_DB, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required under CI and did not answer: {exc}")
        pytest.skip(f"Redis not reachable: {exc}")
    finally:
        client.close()
    return REDIS_DB


@contextmanager
def deployed(name, database, log_dir, justclick, mailkit, workers=1, **overrides):
    """Web (WEB_CONCURRENCY=2) and `workers` workers of one deployment, ready; all stopped afterwards.
    `overrides` are config vars (None unsets one)."""
    port = free_port()
    env = {**vendor_env(justclick, mailkit), **base_env(database, port), **overrides}
    deployment = Deployment(name, env, str(log_dir))
    try:
        deployment.start("web", "web")
        for n in range(workers):
            deployment.start(f"worker-{n + 1}", "worker")
        deployment.wait_ready(workers=workers)
        yield deployment
    finally:
        deployment.close()


@pytest.fixture(scope="module")
def pg_url():
    with throwaway_pg_database("unsub_relay_e2e") as url:
        yield url


@pytest.fixture
def client_ip():
    """The address the platform's router reports for this test's caller (X-Forwarded-For, one trusted hop):
    each test counts against its own public limit, also across runs sharing one Redis."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"

"""First run: the schema migrates itself when processes start, safely when many start at once."""

import signal

import pytest
import requests

from tests.conftest import TOKEN, throwaway_pg_database
from tests.procs import free_port, procfile, spawn, up as _up, wait_for

pytestmark = pytest.mark.slow


def test_the_web_line_alone_on_a_fresh_sqlite_file_accepts_a_webhook(env, tmp_path, justclick):
    """What heroku local, Render, Railway and Fly do: no release line before the web process."""
    port = free_port()
    fresh = {**env, "AUTO_MIGRATE": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh' / 'ledger.sqlite3'}",
             "PORT": str(port), "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"}
    web = spawn(procfile()["web"], fresh, tmp_path, "web")
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _up(base)), (tmp_path / "web.log").read_text()
        justclick.subscribe("first@example.com", "Main")
        answer = requests.post(f"{base}/hooks/justclick?token={TOKEN}", json={"email": "first@example.com"},
                               timeout=10)
        assert (answer.status_code, answer.json()["status"]) == (200, "unsubscribed")
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(30)
    log = (tmp_path / "web.log").read_text()
    assert log.count("ledger schema migrated from empty to 0008") == 1


@pytest.mark.postgres
def test_four_processes_starting_at_once_on_a_fresh_postgres_migrate_once(env, tmp_path, justclick):
    lines = procfile()
    with throwaway_pg_database("unsub_relay_boot") as url:
        pg = {**env, "AUTO_MIGRATE": "1", "DATABASE_URL": url, "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4"}
        ports = [free_port(), free_port()]
        procs = [spawn(lines["web"], {**pg, "PORT": str(p)}, tmp_path, f"web{n}") for n, p in enumerate(ports)]
        procs += [spawn(lines["worker"], pg, tmp_path, f"worker{n}") for n in range(2)]
        try:
            for port in ports:
                assert wait_for(lambda: _up(f"http://127.0.0.1:{port}"), 60)
            for n, port in enumerate(ports):
                email = f"boot{n}@example.com"
                justclick.subscribe(email, "Main")
                answer = requests.post(f"http://127.0.0.1:{port}/hooks/justclick?token={TOKEN}",
                                       json={"email": email}, timeout=10)
                assert answer.status_code == 200, answer.text
            assert all(p.poll() is None for p in procs)  # none failed
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            codes = [proc.wait(30) for proc in procs]
        logs = "".join((tmp_path / f"{name}.log").read_text() for name in ("web0", "web1", "worker0", "worker1"))
        assert logs.count("ledger schema migrated from empty to 0008") == 1, logs[-3000:]
        assert "Traceback" not in logs and codes[2:] == [0, 0]


def test_a_failed_migration_stops_the_process_with_one_line(env, tmp_path):
    broken = {**env, "AUTO_MIGRATE": "1", "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"}
    worker = spawn("flask worker", broken, tmp_path, "worker")
    assert worker.wait(30) == 3
    log = (tmp_path / "worker.log").read_text()
    assert "could not migrate the ledger" in log and "Traceback" not in log

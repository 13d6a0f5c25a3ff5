"""The service as deployed: the Procfile's web line under gunicorn and `flask worker` processes on one ledger,
against the suite's vendor fakes (or any upstream URL), with every process's log in a file.

A test talks to it over HTTP like Zapier, a browser or a mail client would, and reads the ledger directly
(what the operator's SQL would see). Nothing of the app is imported into the test process but its table
definitions and settings' URL rules.
"""

import json
import os
import re
import time
import uuid
from urllib.parse import parse_qsl

import requests
from sqlalchemy import create_engine, func, select

from settings import database_url
from store.models import ATTEMPTS, DELIVERIES
from tests import procs
from tests.helpers import TOKEN

FORM_KEY = "form-key-public-0123456789"
LINK_SECRET = "e2e-link-secret-0123456789-abcdefghijkl"
CONSOLE_PASSWORD = "console-password-e2e-0123"
SECRET_KEY = "e2e-secret-key-0123456789abcdefghijklmnop"
REDIS_DB = "redis://127.0.0.1:6379/11"  # a database number of this package's own; nothing is ever flushed
READY_SECONDS = 60.0  # start-up bound: migrations, gunicorn's workers, Babel's catalogues, on a busy machine
# The checkout the processes run from: this one, or another (an older commit, to see a journey fail there).
APP_ROOT = os.environ.get("E2E_APP_ROOT") or procs.ROOT
ACTIVE = []  # deployments running now, whose logs a failing test shows (conftest.py)


def procfile():
    with open(os.path.join(APP_ROOT, "Procfile")) as f:
        return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in f if line.strip())}


def vendor_env(justclick, mailkit):
    """Real credentials of the fake accounts, and their URLs."""
    return {
        "JUSTCLICK_LOGIN": justclick.login, "JUSTCLICK_SECRET": justclick.secret, "JUSTCLICK_GROUP": "Main",
        "JUSTCLICK_API_URL": f"{justclick.base}/{{login}}/api/",
        "MAILKIT_CLIENT_ID": mailkit.client_id, "MAILKIT_CLIENT_MD5": mailkit.client_md5,
        "MAILKIT_API_URL": mailkit.url("json"),
    }


def base_env(database, port):
    """What an operator sets on the platform: credentials for callers, links, the console."""
    return {
        "DATABASE_URL": database, "PORT": str(port), "WEB_CONCURRENCY": "2", "FLASK_APP": "app",
        "WEBHOOK_TOKENS": TOKEN, "FORM_KEYS": FORM_KEY, "LINK_SECRETS": LINK_SECRET,
        "PUBLIC_URL": f"http://127.0.0.1:{port}", "CONSOLE_PASSWORD": CONSOLE_PASSWORD,
        "SECRET_KEY": SECRET_KEY, "PYTHONUNBUFFERED": "1",
    }


class Deployment:
    """Web and workers of one app on one ledger. `env` is the platform's config vars."""

    def __init__(self, name, env, log_dir):
        self.name, self.env, self.log_dir = name, dict(env), log_dir
        self.port = int(env["PORT"])
        self.base = f"http://127.0.0.1:{self.port}"
        self.procs = {}  # name -> Popen, while running
        self.started = []  # every process name ever started here (their logs outlive them)
        self.engine = create_engine(database_url({"DATABASE_URL": env["DATABASE_URL"]}, "instance"))
        ACTIVE.append(self)

    # --- processes -------------------------------------------------------------------------------------
    def log_path(self, proc_name):
        return os.path.join(self.log_dir, f"{self.name}-{proc_name}.log")

    def start(self, proc_name, line, **overrides):
        """Start one Procfile line (`web`, `worker`) or any command under this deployment's environment."""
        env = {k: v for k, v in {**self.env, **overrides}.items() if v is not None}
        self.started.append(proc_name)
        self.procs[proc_name] = procs.spawn(procfile().get(line, line), env, self.log_path(proc_name),
                                            cwd=APP_ROOT)
        return self.procs[proc_name]

    def stop(self, proc_name):
        return procs.stop(self.procs.pop(proc_name))

    def close(self):
        for proc_name in list(self.procs):
            self.stop(proc_name)
        self.engine.dispose()
        ACTIVE.remove(self)

    def logs(self):
        return {n: procs.tail(self.log_path(n)) for n in dict.fromkeys(self.started)}

    def crashed(self):
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def wait_ready(self, workers=0):
        """Bounded wait: /healthz answers and `workers` workers have written their heartbeat."""
        ok = procs.wait_for(lambda: self.crashed() or (self._healthy() and self.running_workers() >= workers),
                            READY_SECONDS, every=0.1)
        assert ok and not self.crashed(), f"{self.name} did not become ready (exited: {self.crashed()})\n" + \
            "\n".join(f"--- {n}\n{text}" for n, text in self.logs().items())

    def _healthy(self):
        try:
            return requests.get(f"{self.base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def running_workers(self):
        """Workers seen alive, from /readyz (its body is JSON whether it answers 200 or 503)."""
        try:
            worker = requests.get(f"{self.base}/readyz", timeout=5).json().get("worker") or {}
        except (requests.RequestException, ValueError):
            return 0
        return worker.get("running") or 0

    # --- HTTP ----------------------------------------------------------------------------------------------
    def hook(self, body, route="justclick", token=TOKEN, headers=None, timeout=30, **kwargs):
        """A server-to-server webhook (Zapier): JSON with the bearer token."""
        headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        return requests.post(f"{self.base}/hooks/{route}", json=body, headers=headers, timeout=timeout, **kwargs)

    def links(self, items):
        """Signed one-click links made over HTTP (POST /links, server token): [{url, headers}]."""
        answer = requests.post(f"{self.base}/links", json=items, headers={"Authorization": f"Bearer {TOKEN}"},
                               timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def readyz(self):
        return requests.get(f"{self.base}/readyz", timeout=10)

    # --- the ledger ------------------------------------------------------------------------------------------
    def rows(self, *targets, destination=None):
        """Delivery rows for these addresses (any case), oldest first, as dicts."""
        query = select(DELIVERIES).where(func.lower(DELIVERIES.c.target).in_([t.lower() for t in targets]))
        if destination:
            query = query.where(DELIVERIES.c.destination == destination)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query.order_by(DELIVERIES.c.created_at))]

    def attempts(self, delivery_id):
        query = select(ATTEMPTS).where(ATTEMPTS.c.delivery_id == delivery_id).order_by(ATTEMPTS.c.number)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def settled(self, *targets, destination=None):
        """True when every row for these addresses has left `pending` (and there is one per address)."""
        rows = self.rows(*targets, destination=destination)
        seen = {r["target"].lower() for r in rows}
        return seen >= {t.lower() for t in targets} and all(r["status"] != "pending" for r in rows)


def tag():
    """A fresh marker for one test's addresses: deployments live for a module, addresses never repeat."""
    return uuid.uuid4().hex[:8]


def justclick_sent(justclick, emails=None):
    """{address: [group, ...]} of every DeleteSubscribe the JustClick fake received (optionally only these)."""
    sent = {}
    for request in list(justclick.requests):
        fields = dict(parse_qsl(request["body"].decode("utf-8"), keep_blank_values=True))
        email = fields.get("lead_email")
        if email and (emails is None or email in emails):
            sent.setdefault(email, []).append(fields.get("rass_name"))
    return sent


def mailkit_sent(mailkit, emails=None):
    """[(address, parameters)] of every JSON mailkit.email.unsubscribe call (optionally only these)."""
    calls = []
    for transport, call in list(mailkit.calls):
        params = call.get("parameters", {}) if transport == "json" else {}
        email = params.get("email")
        if emails is None or email in emails:
            calls.append((email, params))
    return calls


def csrf_of(html):
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def timed(call):
    """(response or the exception, seconds): an answer that never comes is a result, not a crash."""
    started = time.monotonic()
    try:
        result = call()
    except requests.RequestException as exc:
        result = exc
    return result, time.monotonic() - started


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, default=str)

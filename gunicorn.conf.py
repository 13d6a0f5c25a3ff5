"""gunicorn settings for the Procfile's web line.

gevent workers, so neither a slow upstream nor a slow client starves anybody. A gthread worker committed
a thread to a connection from its first byte to its last: forty clients trickling a body one byte a
second held all 2 x 16 threads and normal webhooks waited a minute. A gevent worker holds a greenlet per
connection instead (a few KB each, up to `worker_connections`), reads request headers under `keepalive`
seconds and bodies under BODY_TIMEOUT_SECONDS (serving/body.py); bench/slow_clients.py measures it.
psycopg 3 and urllib3 cooperate with gevent's monkey-patching, which the worker applies before it loads
the app (so nothing here may import the app: no preload_app).
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# JsonErrorWorker: gunicorn's gevent worker whose own error answers (malformed HTTP) are JSON.
worker_class = "serving.worker.JsonErrorWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Connections one worker holds at once; beyond them new ones wait in the listen backlog. One client (a peer
# address, an IPv6 one by its /64) holds at most a tenth of them; its connections beyond that are answered
# 429 and closed before anything is read (serving/worker.py): one client's idle sockets cannot fill a worker.
worker_connections = int(os.environ.get("GUNICORN_CONNECTIONS", "1000"))
# Zapier gives a step 30 s; upstream calls are bounded by UPSTREAM_TIMEOUT (10 s) well before that.
timeout = 30
graceful_timeout = 20
# Also the deadline for a request's headers under gevent: a client trickling them is cut after it.
keepalive = 5
max_requests = 10000
max_requests_jitter = 500
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
# No query string (tokens, addresses), no email address, no control character: serving/accesslog.py.
logger_class = "serving.accesslog.PrivateLogger"
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# Prometheus multiprocess mode: the master sets and wipes PROMETHEUS_MULTIPROC_DIR before any fork (when
# METRICS_TOKEN is set); a worker that exits is marked dead so its gauges leave the scrape.
from metrics.hooks import child_exit, on_starting  # noqa: E402,F401 - gunicorn server hooks

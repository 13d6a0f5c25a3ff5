"""gunicorn settings for the Procfile's web line: threads, so a slow upstream starves nobody."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
# Zapier gives a step 30 s; upstream calls are bounded by UPSTREAM_TIMEOUT (10 s) well before that.
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 10000
max_requests_jitter = 500
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None


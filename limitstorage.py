"""The storage RATE_LIMIT_STORAGE_URI names (the `limits` library's), opened one way for every process:
the web's caller limits count in it, the worker's alert checks ping it.

A Redis one gets short socket timeouts and no retries: redis-py's default retries with backoff held a
request 32 s against a Redis that accepted and never answered.
"""

from limits.storage import storage_from_string

SOCKET_TIMEOUT = 0.25  # seconds: Redis answers in a millisecond on the same network


def is_redis(uri):
    """Whether the URI names Redis (the only shared store the service supports besides memory://)."""
    return uri.split(":", 1)[0] in ("redis", "rediss", "redis+unix")


def open_storage(uri, timeout=SOCKET_TIMEOUT):
    """The `limits` storage the URI names; a Redis one with `timeout`-second sockets and no retries."""
    if not is_redis(uri):
        return storage_from_string(uri)
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    return storage_from_string(uri, socket_timeout=timeout, socket_connect_timeout=timeout,
                               retry=Retry(NoBackoff(), 0), wrap_exceptions=True)

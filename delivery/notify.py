"""Sending alerts through Apprise, off the caller's thread: a send never blocks or raises into a loop.

One Notifier per process and ALERT_URLS: a daemon thread takes messages from a bounded queue and posts
them, each service with connect and read timeouts, so an unreachable address costs that thread only.
"""

import logging
import queue
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from delivery import telemetry

log = logging.getLogger("unsub_relay.alerts")
TIMEOUTS = "cto=3&rto=5"  # Apprise's connect and read timeouts, in seconds, unless the URL sets its own
QUEUE_SIZE = 200


@dataclass(frozen=True)
class Message:
    """One alert as sent: its record's key, a title, a body and an Apprise type."""

    key: str
    title: str
    body: str
    type: str = "warning"

    @property
    def event(self):
        """What happened (the key's first part: the record kind), the metric's label."""
        return self.key.split(":", 1)[0]


def with_timeouts(url):
    """The URL with bounded connect and read timeouts added when it names none."""
    if "cto=" in url or "rto=" in url:
        return url
    return url + ("&" if "?" in url else "?") + TIMEOUTS


def scheme(url):
    """Only the scheme of an alert URL: the rest may hold a token."""
    return urlsplit(url).scheme or "?"


class Notifier:
    """Posts messages to every ALERT_URLS service from one background thread."""

    def __init__(self, urls):
        self.urls, self.apprise, self.problems = tuple(urls), None, []
        self.queue = queue.Queue(QUEUE_SIZE)
        self._thread, self._start_lock = None, threading.Lock()
        if self.urls:
            self._load()

    def _load(self):
        # Apprise imports its plugins on first use; one of them imports the deprecated imghdr.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import apprise
            self.apprise = apprise.Apprise()
            for url in self.urls:
                if not self.apprise.add(with_timeouts(url)):
                    self.problems.append(f"ALERT_URLS: a {scheme(url)}:// entry is not a valid Apprise URL")
        for problem in self.problems:
            log.error("%s", problem)

    @property
    def enabled(self):
        return self.apprise is not None and len(self.apprise) > 0

    def send(self, message):
        """Queue a message for the sending thread; dropped (and logged) when the queue is full."""
        if not self.enabled:
            return
        try:
            self.queue.put_nowait(message)
        except queue.Full:
            log.error("alert queue full: dropped %s", message.key)
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
                self._thread.start()

    def _run(self):
        while True:
            message = self.queue.get()
            try:
                self._post(message)
            finally:
                self.queue.task_done()

    def _post(self, message):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ok = self.apprise.notify(title=message.title, body=message.body, notify_type=message.type)
        except Exception as exc:  # an alert service's failure must never reach the worker
            log.error("alert %s not sent: %s", message.key, type(exc).__name__)
            return
        if ok:
            telemetry.alert_sent(message.event)  # counted once a service took it, not when queued
            log.info("alert sent: %s", message.key)
        else:
            log.error("alert %s not sent: a service in ALERT_URLS refused or did not answer", message.key)

    def flush(self, timeout):
        """Wait up to `timeout` seconds for queued messages to go (a worker stopping cleanly)."""
        done = threading.Event()
        threading.Thread(target=lambda: (self.queue.join(), done.set()), daemon=True).start()
        return done.wait(timeout)


@lru_cache(maxsize=8)
def notifier_for(urls):
    """The process's one Notifier for these ALERT_URLS (a tuple)."""
    return Notifier(urls)

"""The console's sessions and its login lockout, in the ledger so that every process sees the same.

A session row is keyed by a digest of the random id the cookie holds (never the id itself); logout ends it
here, so a copied cookie dies with it. The row also keeps the operator's last searched address, which is
personal data and so never goes in the cookie or a URL.

Wrong passwords are counted per client (a keyed digest of its address, never the address): the client that
keeps failing waits longer and longer, while the operator elsewhere logs in as usual.
"""

from datetime import timedelta

from store import statements as sql

FREE_FAILURES = 4  # wrong passwords a client makes before its first lock
FIRST_LOCK_SECONDS = 60  # the lock after the 5th wrong password, doubled after each further one
MAX_LOCK_SECONDS = 3600
QUIET = timedelta(hours=24)  # a client without a login attempt for this long starts afresh


def lock_seconds(failures):
    """How long a client is locked after its `failures`-th wrong password in a row (0: not locked)."""
    over = failures - FREE_FAILURES
    if over <= 0:
        return 0
    return min(FIRST_LOCK_SECONDS * 2 ** min(over - 1, 16), MAX_LOCK_SECONDS)


class ConsoleSessions:
    """Console sessions by the digest of their cookie's id; `now()` is the store's clock."""

    def __init__(self, writer, now):
        self.writer, self.now = writer, now

    def start(self, digest, lifetime):
        """A new session valid for `lifetime` (a timedelta); sessions ended or expired are forgotten."""
        now = self.now()
        with self.writer.writing() as conn:
            conn.execute(sql.FORGET_SESSIONS, {"now": now})
            conn.execute(sql.START_SESSION, {"id": digest, "created_at": now, "expires_at": now + lifetime})

    def find(self, digest):
        """{search_address} of a live session (not ended, not expired), or None."""
        with self.writer.reading() as conn:
            row = conn.execute(sql.LIVE_SESSION, {"id": digest, "now": self.now()}).mappings().first()
        return None if row is None else dict(row)

    def remember_search(self, digest, address):
        """Keep the address the operator searched for with their session."""
        with self.writer.writing() as conn:
            conn.execute(sql.REMEMBER_SEARCH, {"_id": digest, "address": address or None})

    def end(self, digest):
        """Log out: the session (and its searched address) is over, whoever holds a copy of the cookie."""
        with self.writer.writing() as conn:
            conn.execute(sql.END_SESSION, {"_id": digest, "now": self.now()})


class LoginFailures:
    """Wrong console passwords per client, with exponential backoff; `now()` is the store's clock."""

    def __init__(self, writer, now):
        self.writer, self.now = writer, now

    def admit(self, client):
        """Seconds `client` must still wait (the attempt is refused), or 0: the attempt may check its
        password and is counted as a failure until `forget` says it was right.

        Counting before the check, in the transaction that reads the lock (the row locked on PostgreSQL, the
        file on SQLite), means parallel guesses cannot all slip in before the first one is counted."""
        now = self.now()
        with self.writer.writing() as conn:
            conn.execute(sql.FORGET_QUIET_CLIENTS, {"quiet_since": now - QUIET, "now": now})
            conn.execute(sql.NEW_CLIENT[conn.dialect.name], {"client": client, "failures": 0, "last_at": now})
            row = conn.execute(sql.CLIENT_LOCKED, {"client": client}).one()
            if row.locked_until is not None and row.locked_until > now:
                return (row.locked_until - now).total_seconds()
            failures = row.failures + 1
            lock = lock_seconds(failures)
            conn.execute(sql.COUNT_FAILURE, {"_client": client, "failures": failures, "last_at": now,
                                             "locked_until": now + timedelta(seconds=lock) if lock else None})
        return 0

    def forget(self, client):
        """The client logged in: its count starts again from zero."""
        with self.writer.writing() as conn:
            conn.execute(sql.FORGET_CLIENT, {"client": client})

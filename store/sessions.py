"""The console's sessions and its login lockout, in the ledger so that every process sees the same.

A session row is keyed by a digest of the random id the cookie holds (never the id itself); logout ends it
here, so a copied cookie dies with it. The row also keeps the operator's last searched address, which is
personal data and so never goes in the cookie or a URL.

Wrong passwords are counted per client (a keyed digest of its address, never the address): the client that
keeps failing waits longer and longer, while the operator elsewhere logs in as usual.
"""

from datetime import timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from store.models import CONSOLE_SESSIONS, LOGIN_FAILURES

S, F = CONSOLE_SESSIONS.c, LOGIN_FAILURES.c
INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
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
            conn.execute(delete(CONSOLE_SESSIONS).where(or_(S.ended_at.is_not(None), S.expires_at <= now)))
            conn.execute(CONSOLE_SESSIONS.insert().values(id=digest, created_at=now,
                                                          expires_at=now + lifetime))

    def find(self, digest):
        """{search_address} of a live session (not ended, not expired), or None."""
        live = (S.id == digest, S.ended_at.is_(None), S.expires_at > self.now())
        query = select(S.search_address).where(*live)
        with self.writer.reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else dict(row._mapping)

    def remember_search(self, digest, address):
        """Keep the address the operator searched for with their session."""
        with self.writer.writing() as conn:
            conn.execute(update(CONSOLE_SESSIONS).where(S.id == digest)
                         .values(search_address=address or None))

    def end(self, digest):
        """Log out: the session (and its searched address) is over, whoever holds a copy of the cookie."""
        with self.writer.writing() as conn:
            conn.execute(update(CONSOLE_SESSIONS).where(S.id == digest, S.ended_at.is_(None))
                         .values(ended_at=self.now(), search_address=None))


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
            conn.execute(delete(LOGIN_FAILURES).where(F.last_at < now - QUIET,
                                                      or_(F.locked_until.is_(None), F.locked_until <= now)))
            conn.execute(INSERTS[conn.dialect.name](LOGIN_FAILURES)
                         .values(client=client, failures=0, last_at=now).on_conflict_do_nothing())
            row = conn.execute(select(F.failures, F.locked_until).where(F.client == client)
                               .with_for_update()).one()
            if row.locked_until is not None and row.locked_until > now:
                return (row.locked_until - now).total_seconds()
            failures = row.failures + 1
            lock = lock_seconds(failures)
            conn.execute(update(LOGIN_FAILURES).where(F.client == client).values(
                failures=failures, last_at=now, locked_until=now + timedelta(seconds=lock) if lock else None))
        return 0

    def forget(self, client):
        """The client logged in: its count starts again from zero."""
        with self.writer.writing() as conn:
            conn.execute(delete(LOGIN_FAILURES).where(F.client == client))

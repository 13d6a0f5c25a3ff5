"""Group commit by flat combining, mixed into the WriteEngine: the mechanism by which requests that arrive
while the write connection is busy share its next transaction (what each writes is the ledger's)."""

from errors import StoreUnavailable
from store import hot
from store.statements import ADVISORY_LOCKS


class _Rerun(Exception):
    """A job of a batch failed: the batch's transaction rolls back and its jobs run again one by one."""


class _Job:
    """One piece of write work waiting for a shared transaction: `work(conn)`, or an `item` of a `runner`
    (runner(conn, items) -> results) that runs every item of its kind in the batch at once."""

    __slots__ = ("work", "runner", "item", "locks", "locks_in_work", "one_statement", "result", "error",
                 "committed", "done")

    def __init__(self, work, locks, locks_in_work, runner=None, item=None, one_statement=False):
        self.work, self.runner, self.item = work, runner, item
        self.locks, self.locks_in_work, self.one_statement = locks, locks_in_work, one_statement
        self.result = self.error = None
        self.committed = self.done = False

    @property
    def kind(self):
        """What groups jobs in a batch: the runner, or the job itself for work of its own."""
        return self if self.runner is None else self.runner


def _grouped(batch):
    """The batch's jobs by kind, in order of arrival, except that a kind taking its own locks goes first:
    its advisory locks are then the first the transaction takes, as they are for every other writer."""
    groups = {}
    for job in batch:
        groups.setdefault(job.kind, []).append(job)
    return sorted(groups.values(), key=lambda jobs: not (jobs[0].locks_in_work and _holds_locks(jobs)))


def _holds_locks(jobs):
    return any(job.locks for job in jobs)


def _locks_in_work(groups):
    """Whether the one kind holding advisory locks takes them all itself (its first statement, sorted):
    otherwise the batch takes every job's locks first, in one sorted order, so two batches never deadlock."""
    holders = [jobs for jobs in groups if _holds_locks(jobs)]
    if len(holders) != 1:
        return False
    first = holders[0][0]
    return first.locks_in_work and (len(holders[0]) == 1 or first.runner is not None)


class GroupCommit:
    """Mixed into the WriteEngine: its write connection (_transaction, _autocommit), its lock (_thread_lock),
    the queue (_queue, _queue_lock) and the advisory locks (_lock)."""

    def transaction(self, work, locks=(), locks_in_work=False):
        """work(conn) in a write transaction, committed before this returns; its return value.

        On PostgreSQL the advisory `locks` (the dedup decision per address and destination) are held to the
        commit; with `locks_in_work` the work's first statement takes them itself, one round trip fewer.

        Group commit by flat combining: a job that finds the write connection busy queues, and whoever holds
        it next runs every queued job in one transaction. Under load one BEGIN, one commit (its flush) and on
        SQLite one pass of the cross-process file lock serve many requests: in the contest (bench/ab.py) a
        transaction per job cost about 1.45x the CPU per webhook on SQLite, 1.4x on PostgreSQL. A batch takes
        all its jobs' advisory locks first, in one sorted order, so two batches never deadlock. Optimistic:
        no savepoint per job (two more round trips each on PostgreSQL); if one job fails, the batch rolls
        back and every job runs again alone, so a value the database refuses fails that request alone.
        """
        return self._submit(_Job(work, tuple(locks), locks_in_work))

    def together(self, runner, item, locks=(), locks_in_work=False, one_statement=False):
        """runner(conn, [item, ...]) -> [result, ...] in a write transaction, committed before this returns;
        this item's result.

        The jobs of one runner that share a batch are run by one call, so a batch of accepts sends one
        dedup look-up and one INSERT for all of them, not one per request: under load a webhook then costs
        about one round trip, where a transaction per job cost four and a half (bench/run.py --roundtrips).
        With `locks_in_work` the runner takes every item's advisory locks itself, sorted, in its first
        statement.
        A runner whose call is `one_statement` (atomic by itself) runs in autocommit on PostgreSQL when its
        jobs make the whole batch: no BEGIN and no COMMIT round trip, and the commit still waits for its WAL
        flush (synchronous_commit as configured, never off). Such a runner takes no locks (autocommit would
        release them at once) and may fail only before or in its statement (after it, the statement is
        committed and a rerun would write it twice). Cut off while its statement runs (a timeout), it may
        have committed: its callers are told StoreUnavailable, as when a COMMIT is cut off."""
        if one_statement and locks:
            raise ValueError("a one-statement job runs in autocommit: it cannot hold advisory locks")
        return self._submit(_Job(None, tuple(locks), locks_in_work, runner, item, one_statement))

    def _submit(self, job):
        with self._queue_lock:
            self._queue.append(job)
        with self._thread_lock:
            if not job.done:
                self._run_queued(job)
        if job.error is not None:
            raise job.error
        return job.result

    @property
    def queued(self):
        """How many jobs wait for the next transaction."""
        with self._queue_lock:
            return len(self._queue)

    def _run_queued(self, own):
        """Run what is queued in one transaction (caller holds _thread_lock). On SQLite the queue is taken
        once the transaction has begun: those who came while it waited for the file lock ride along. On
        PostgreSQL (a transaction begins with its first statement) it is taken first, so a batch of
        one-statement jobs can run in autocommit."""
        batch = []
        try:
            try:
                if self.postgres:
                    batch = self._take()
                    if batch and all(job.one_statement and job.runner == batch[0].runner for job in batch):
                        with self._autocommit() as conn:
                            self._run_batch(conn, batch)
                        self._committed(batch)
                        return
                with self._transaction() as conn:
                    if not self.postgres:
                        batch = self._take()
                    self._run_batch(conn, batch)
                self._committed(batch)
            except _Rerun:  # rolled back: each job again, in its own transaction
                for job in batch:
                    self._run_alone(job)
        except StoreUnavailable as exc:
            for job in batch or self._take_queue():
                job.error = job.error or exc
        except BaseException as exc:  # a timeout or exit: the transaction is gone for all not yet done
            for job in batch:
                if not job.committed:
                    job.error = job.error or StoreUnavailable(type(exc).__name__)
            if not batch:  # interrupted before it took the queue: its own job goes, the others wait on
                self._withdraw(own)
            raise
        finally:
            for job in batch:
                job.done = True

    def _take(self):
        with self._queue_lock:
            batch, self._queue = self._queue, []
        return batch

    @staticmethod
    def _committed(batch):
        for job in batch:
            job.committed = True

    def _run_batch(self, conn, batch):
        """Every job of `batch` on `conn`: the advisory locks first, then each kind. A lone job's failure is
        its own (raised as is); in a batch any failure rolls all back for a rerun job by job."""
        groups = _grouped(batch)
        if not _locks_in_work(groups):
            self._lock(conn, [key for job in batch for key in job.locks])
        for jobs in groups:
            try:
                self._run_kind(conn, jobs)
            except Exception as exc:
                if len(batch) == 1:
                    raise
                raise _Rerun from exc  # whatever it was, the batch is rerun job by job

    @staticmethod
    def _run_kind(conn, jobs):
        if jobs[0].runner is None:
            jobs[0].result = jobs[0].work(conn)
            return
        results = jobs[0].runner(conn, [job.item for job in jobs])
        for job, result in zip(jobs, results, strict=True):
            job.result = result

    def _run_alone(self, job):
        """One job of a failed batch in a transaction of its own; what it raises is handed to its caller."""
        job.result = None
        try:
            with self._transaction() as conn:
                self._run_batch(conn, [job])
            job.committed = True
        except Exception as exc:  # noqa: BLE001 - the job's own failure, re-raised in its own thread
            job.error = exc

    def _withdraw(self, job):
        with self._queue_lock:
            if job in self._queue:
                self._queue.remove(job)

    def _take_queue(self):
        """Every queued job (the transaction failed before it took them: each is told so)."""
        batch = self._take()
        for job in batch:
            job.done = True
        return batch

    def _lock(self, conn, locks):
        if locks and self.postgres:
            hot.rows(conn, ADVISORY_LOCKS, {"keys": sorted(set(locks))})

"""Group commit (store/group_commit.py: WriteEngine.transaction and .together): jobs queued while one
transaction runs share the next one (a runner's jobs, one call), and a job that fails rolls back alone. Real
threads on a real database, SQLite and PostgreSQL."""

import json

import pytest
from sqlalchemy import event, text

from errors import StoreUnavailable
from store.db import make_engine
from store.engine import WriteEngine
from tests.held import behind_a_held_transaction

INSERT = text("INSERT INTO scratch (id) VALUES (:id)")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def writer(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'group.sqlite3'}" if request.param == "sqlite" \
        else request.getfixturevalue("pg_database")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS scratch"))
        conn.execute(text("CREATE TABLE scratch (id INTEGER PRIMARY KEY)"))
    writer = WriteEngine(engine)
    writer.commits = []
    event.listen(engine, "commit", lambda conn: writer.commits.append(1))
    yield writer
    writer.close()


def ids(writer):
    with writer.reading() as conn:
        return sorted(row.id for row in conn.execute(text("SELECT id FROM scratch")))


def insert(value):
    def work(conn):
        conn.execute(INSERT, {"id": value})
        return value
    return work


def fail_with(exc):
    def work(conn):
        raise exc
    return work


def hold_with_row_0(conn):
    conn.execute(INSERT, {"id": 0})


def run_behind_a_held_transaction(writer, works):
    """Each work in its own writer.transaction, queued behind a held one (which wrote row 0)."""
    return behind_a_held_transaction(writer, [lambda work=work: writer.transaction(work) for work in works],
                                     hold_with_row_0)


def test_jobs_queued_meanwhile_share_one_commit(writer):
    results = run_behind_a_held_transaction(writer, [insert(i) for i in range(1, 6)])
    assert results == [1, 2, 3, 4, 5]
    assert len(writer.commits) == 2  # the held one, then the five together
    assert ids(writer) == [0, 1, 2, 3, 4, 5]


def test_a_failing_job_rolls_back_alone_and_its_caller_is_told(writer):
    works = [insert(1), insert(1), fail_with(ValueError("bad")), insert(2)]
    results = run_behind_a_held_transaction(writer, works)
    assert results[0] == 1 and results[3] == 2
    assert isinstance(results[1], StoreUnavailable)  # the duplicate key: the database refused it
    assert isinstance(results[2], ValueError)
    assert len(writer.commits) == 3  # the held one; the batch rolled back; the two good jobs alone
    assert ids(writer) == [0, 1, 2]


class Interrupted(BaseException):
    """As gevent.Timeout is: not an Exception."""


def test_an_interrupted_batch_tells_every_caller_nothing_was_written(writer):
    results = run_behind_a_held_transaction(writer, [insert(1), fail_with(Interrupted()), insert(2)])
    assert all(isinstance(result, (StoreUnavailable, Interrupted)) for result in results), results
    assert ids(writer) == [0]


def test_alone_a_job_commits_in_its_own_transaction(writer):
    assert writer.transaction(insert(7)) == 7
    with pytest.raises(StoreUnavailable):
        writer.transaction(insert(7))
    assert writer.transaction(insert(8)) == 8
    assert len(writer.commits) == 2
    assert ids(writer) == [7, 8]


def test_a_one_statement_job_cannot_hold_advisory_locks(writer):
    """Autocommit would release them at once: refused before anything is queued."""
    with pytest.raises(ValueError):
        writer.together(lambda conn, items: items, "x", locks=[1], one_statement=True)
    assert writer.queued == 0
    assert writer.together(lambda conn, items: [f"ran {i}" for i in items], "y") == "ran y"


def insert_all(conn, items):
    """A runner: every item of the batch in one INSERT statement (atomic alone, so one_statement)."""
    values = json.dumps(items)
    conn.execute(INSERT_ALL[conn.dialect.name], {"ids": values})
    return items


INSERT_ALL = {"postgresql": text("INSERT INTO scratch (id) SELECT value::int "
                                 "FROM json_array_elements_text(:ids)"),
              "sqlite": text("INSERT INTO scratch (id) SELECT value FROM json_each(:ids)")}


def run_together_behind_a_held_transaction(writer, items, runner=insert_all):
    """Each item in its own writer.together(...) of one runner, queued behind a held transaction (which wrote
    row 0); (what each caller got, the runner's calls)."""
    calls = []

    def counted(conn, batch):
        calls.append(list(batch))
        return runner(conn, batch)

    together = [lambda item=item: writer.together(counted, item, one_statement=True) for item in items]
    return behind_a_held_transaction(writer, together, hold_with_row_0), calls


def test_the_jobs_of_one_runner_in_a_batch_are_one_call(writer):
    results, calls = run_together_behind_a_held_transaction(writer, [1, 2, 3])
    assert results == [1, 2, 3] and calls == [[1, 2, 3]]
    assert ids(writer) == [0, 1, 2, 3]


def test_a_one_statement_batch_that_fails_reruns_each_job_alone(writer):
    results, calls = run_together_behind_a_held_transaction(writer, [1, 2, 2, 3])
    assert results[:2] == [1, 2] and isinstance(results[2], StoreUnavailable) and results[3] == 3
    assert calls == [[1, 2, 2, 3], [1], [2], [2], [3]]
    assert ids(writer) == [0, 1, 2, 3]


def test_an_interrupted_runner_tells_every_caller_nothing_was_written(writer):
    def interrupted(conn, batch):
        raise Interrupted()
    results, _ = run_together_behind_a_held_transaction(writer, [1, 2], runner=interrupted)
    assert all(isinstance(result, (StoreUnavailable, Interrupted)) for result in results), results
    assert ids(writer) == [0]

"""Operator commands: `flask db upgrade`, `flask worker`, `flask deliveries ...`."""

import json
import re
import signal

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from store import db as schema
from store.models import DONE, FAILED, PENDING
from store.worker import Worker

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
deliveries_cli = AppGroup("deliveries", help="Inspect, replay and purge the delivery ledger.")
DURATION = re.compile(r"^(\d+)([dhm]?)$")
UNITS = {"d": 86400, "h": 3600, "m": 60, "": 86400}


def _ledger():
    return current_app.extensions["ledger"]


@db_cli.command("upgrade")
def upgrade_command():
    """Create or upgrade the ledger's tables (the Procfile's release step)."""
    schema.upgrade(_ledger().engine)
    click.echo("database is up to date")


def make_worker(app, concurrency=None):
    """A Worker wired to this app's ledger and connectors."""
    settings = app.config["SETTINGS"]
    return Worker(app.extensions["ledger"], app.extensions["dispatcher"],
                  concurrency=concurrency or settings.worker_concurrency,
                  lease_seconds=settings.upstream_timeout * 2 + 30)


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Send everything that is due now, then exit.")
@click.option("--concurrency", type=click.IntRange(1, 256), help="Requests in flight (WORKER_CONCURRENCY).")
def worker_command(once, concurrency):
    """Deliver queued unsubscribes with retries until stopped (SIGTERM finishes what is in flight)."""
    worker = make_worker(current_app, concurrency)
    if once:
        click.echo(json.dumps({"handled": worker.drain()}))
        return
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run()


def _line(row):
    return (f"{row.id}  {row.created_at:%Y-%m-%d %H:%M:%S}  {row.destination:<9} {row.status:<7} "
            f"{row.outcome or '-':<20} attempts={row.attempts} code={row.last_code or '-'}  {row.target}")


@deliveries_cli.command("list")
@click.option("--status", type=click.Choice([PENDING, FAILED, DONE]))
@click.option("--target", help="An email address or phone number.")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_command(status, target, limit, as_json):
    """List deliveries, newest first."""
    for row in _ledger().find(status, target, limit):
        click.echo(json.dumps(row.as_dict(), ensure_ascii=False) if as_json else _line(row))


@deliveries_cli.command("show")
@click.argument("delivery_id")
def show_command(delivery_id):
    """Show one delivery with its whole history fields, as JSON."""
    row = _ledger().get(delivery_id)
    if row is None:
        raise click.ClickException(f"no delivery {delivery_id}")
    click.echo(json.dumps(row.as_dict(), ensure_ascii=False, indent=2))


@deliveries_cli.command("replay")
@click.argument("delivery_id", required=False)
@click.option("--failed", "all_failed", is_flag=True, help="Replay every failed delivery.")
def replay_command(delivery_id, all_failed):
    """Send a delivery again now (or every failed one), and print the results."""
    ledger = _ledger()
    if all_failed == bool(delivery_id):
        raise click.UsageError("give a delivery ID or --failed")
    ids = None
    if delivery_id:
        row = ledger.get(delivery_id)
        if row is None:
            raise click.ClickException(f"no delivery {delivery_id}")
        ids = [row.id]
    count = ledger.requeue(ids, failed=all_failed)
    make_worker(current_app).drain()
    click.echo(json.dumps({"replayed": count}))
    for row_id in ids or []:
        click.echo(json.dumps(ledger.get(row_id).as_dict(), ensure_ascii=False))


def parse_age(text):
    """'90d', '12h', '30m' or a bare number of days, in seconds."""
    match = DURATION.match(text.strip().lower())
    if not match:
        raise click.BadParameter("use a number of days, or e.g. 90d, 12h, 30m")
    return int(match.group(1)) * UNITS[match.group(2)]


@deliveries_cli.command("purge")
@click.option("--older-than", "older_than", required=True, help="e.g. 90d: finished deliveries older than this.")
def purge_command(older_than):
    """Delete finished deliveries (personal data) older than the given age; pending ones stay."""
    click.echo(json.dumps({"purged": _ledger().purge(parse_age(older_than))}))


def init_app(app):
    """Register the store's commands."""
    app.cli.add_command(db_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(deliveries_cli)

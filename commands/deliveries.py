"""Operator commands: `flask db upgrade`, `flask worker`,
`flask deliveries list|show|replay|purge|import|export|proof`."""

import json
import signal
import sys
from contextlib import contextmanager

import click
from flask.cli import AppGroup

import metrics
from commands import pass_relay
from commands.unsubscribe import Destination
from delivery.export import FORMATS, export_lines
from delivery.imports import Importer, Unreadable, check_utf8, open_text
from delivery.proof import jsonable, proof_for, proof_lines
from schemas.fields import parse_duration
from schemas.inbound import canonical
from status import STATES

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
deliveries_cli = AppGroup("deliveries", help="Inspect, replay and purge the delivery ledger.")


def _json(obj, indent=None):
    click.echo(json.dumps(obj, ensure_ascii=False, indent=indent))


@db_cli.command("upgrade")
@pass_relay
def upgrade_command(relay):
    """Create or upgrade the ledger's tables (the Procfile's release step)."""
    relay.operations.upgrade()
    click.echo("database is up to date")


@click.command("worker")
@pass_relay
@click.option("--once", is_flag=True, help="Send everything that is due now, then exit.")
@click.option("--concurrency", type=click.IntRange(1, 256), help="Requests in flight (WORKER_CONCURRENCY).")
def worker_command(relay, once, concurrency):
    """Deliver queued unsubscribes with retries until stopped (SIGTERM finishes what is in flight)."""
    worker = relay.operations.worker(concurrency)
    if once:
        _json({"handled": worker.drain()})
        return
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    metrics.serve_worker(relay.settings)  # METRICS_PORT: the worker's own /metrics
    worker.run()


def _line(row):
    return (f"{row['id']}  {row['created_at'][:19].replace('T', ' ')}  {row['destination']:<9} "
            f"{row['status']:<7} {row['outcome'] or '-':<20} attempts={row['attempts']} "
            f"code={row['last_code'] or '-'}  {row['target']}")


@deliveries_cli.command("list")
@click.option("--status", type=click.Choice(STATES))
@click.option("--target", help="An email address or phone number.")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_relay
def list_command(relay, status, target, limit, as_json):
    """List deliveries, newest first."""
    for row in relay.operations.find(status, target, limit):
        click.echo(json.dumps(row, ensure_ascii=False) if as_json else _line(row))


@deliveries_cli.command("show")
@click.argument("delivery_id")
@pass_relay
def show_command(relay, delivery_id):
    """Show one delivery with every field and every attempt in order, as JSON."""
    row = relay.operations.show(delivery_id)
    if row is None:
        raise click.ClickException(f"no delivery {delivery_id}")
    _json(row, indent=2)


@deliveries_cli.command("replay")
@click.argument("delivery_id", required=False)
@click.option("--failed", "all_failed", is_flag=True, help="Replay every failed delivery.")
@pass_relay
def replay_command(relay, delivery_id, all_failed):
    """Send a delivery again now (or every failed one), and print the results. Exactly those are sent:
    the rest of the backlog stays with the worker."""
    ops = relay.operations
    if all_failed == bool(delivery_id):
        raise click.UsageError("give a delivery ID or --failed")
    ids = None
    if delivery_id:
        row = ops.show(delivery_id)
        if row is None:
            raise click.ClickException(f"no delivery {delivery_id}")
        ids = [row["id"]]
    _json({"replayed": ops.replay(ids, failed=all_failed)})
    for row_id in ids or []:
        _json(ops.show(row_id))


def parse_age(text):
    """'90d', '12h', '30m' or a bare number of days, in seconds; a usage error otherwise."""
    try:
        return parse_duration(text, zero=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@deliveries_cli.command("purge")
@click.option("--older-than", "older_than", required=True, help="e.g. 90d: finished deliveries older than this.")
@pass_relay
def purge_command(relay, older_than):
    """Delete finished deliveries (personal data) older than the given age; pending ones stay."""
    _json({"purged": relay.operations.purge(parse_age(older_than))})


def init_app(app):
    """Register the store's commands."""
    app.cli.add_command(db_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(deliveries_cli)


@deliveries_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "to", type=Destination(), default="all", show_default=True)
@click.option("--group", help="JustClick group for lines that name none (default JUSTCLICK_GROUP).")
@click.option("--campaign", help="Mailkit ID_send_message for lines that name none.")
@click.option("--no-optout", "send_optout", flag_value=False, default=None,
              help="Mailkit: send no opt-out confirmation mails.")
@click.option("--window", default="30d", show_default=True,
              help="Skip addresses already unsubscribed or queued within this age (e.g. 30d); makes re-runs idempotent.")
@click.option("--dry-run", is_flag=True, help="Validate and count; write nothing.")
@pass_relay
def import_command(relay, path, to, group, campaign, send_optout, window, dry_run):
    """Queue a suppression list (CSV with a header of field names, one address per line, or JSON Lines).
    A file that is not UTF-8 is refused before anything is queued; a bad line is reported and skipped."""
    try:
        lines = check_utf8(path)
    except Unreadable as exc:  # exit 1 with the reason, no traceback
        raise click.ClickException(f"{path}: {exc}") from None
    defaults = {"group": group, "campaign": campaign, "send_optout": send_optout}
    importer = Importer(relay.service, to,
                        canonical({k: v for k, v in defaults.items() if v is not None}), parse_age(window), dry_run)
    with open_text(path) as stream, progress_bar(lines) as advance:
        summary = importer.run(stream, advance)
    for bad in summary.errors:
        click.echo(json.dumps(bad, ensure_ascii=False), err=True)
    _json({k: v for k, v in summary.as_dict(dry_run).items() if k != "invalid_lines"})


@contextmanager
def progress_bar(lines):
    """A tqdm bar over the file's `lines` on a terminal (stderr), nothing when piped: counted by the UTF-8
    check's pass over the bytes, so it shows a total, a percentage and the time left."""
    from tqdm import tqdm

    interactive = sys.stderr.isatty()
    total = lines if interactive else None
    with tqdm(total=total, unit=" lines", disable=not interactive, file=sys.stderr, mininterval=0.5) as bar:
        def advance(line):
            bar.update(line - bar.n)
        yield advance


DATES = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"])


@deliveries_cli.command("export")
@click.option("--since", type=DATES, help="Received at or after this UTC date or time (2026-01-31).")
@click.option("--until", type=DATES, help="Received before this UTC date or time.")
@click.option("--target", help="Only this email address or phone number.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@pass_relay
def export_command(relay, since, until, target, fmt):
    """Print the audit export to stdout, one row per delivery: received, every attempt, confirmed."""
    for line in export_lines(relay.operations, fmt, since, until, target):
        sys.stdout.write(line)


@deliveries_cli.command("proof")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True, help="The proof document as JSON instead of text.")
@pass_relay
def proof_command(relay, address, as_json):
    """One person's proof: every opt-out of ADDRESS in time order, each destination's attempts with the
    vendor's verified answer, and the read-back confirmation. Sandbox deliveries are never in it.
    Exits 1 when the ledger holds no opt-out of the address."""
    doc = proof_for(relay.reports, address.strip())
    if not doc["opt_outs"]:
        raise click.ClickException("no opt-out of that address is in the ledger (an exact address, any case)")
    if as_json:
        _json(jsonable(doc), indent=2)
        return
    for line in proof_lines(doc):
        click.echo(line)

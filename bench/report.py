"""bench/RESULTS.md: markdown tables, every timing as the median with the min and max over the rounds."""

import os
import platform
import re
import statistics

from bench.contest import POSTGRES, SQLITE


def spread(values):
    """(median, min, max) of a non-empty list of numbers."""
    values = list(values)
    return statistics.median(values), min(values), max(values)


def figure(values, digits=0):
    """'median (min-max)' of the values, e.g. '720 (650-781)'."""
    mid, low, high = spread(values)
    return f"{mid:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def paired_ratios(runs, name, base, key):
    """Round-by-round ratios name/base: rounds alternate contenders, so pairing cancels drift."""
    return [mine[key] / theirs[key] for mine, theirs in zip(runs[name], runs[base]) if theirs[key]]


def ratio(runs, name, base, key):
    """'1.06x (0.92-1.21)' over the paired rounds, or '' against itself."""
    if name == base:
        return "1.00x"
    values = paired_ratios(runs, name, base, key)
    return figure(values, 2).replace(" (", "x (") if values else "-"


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = re.search(r"model name\s*:\s*(.+)", f.read()).group(1)
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def contest_table(runs):
    """One row per contender: throughput and CPU per request, each against both forwarders."""
    lines = ["| contender | req/s | vs naive | vs pooled | CPU µs/request | CPU vs naive | CPU vs pooled "
             "| p50 ms | p99 ms | errors |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    naive, pooled = "naive forwarder", "pooled forwarder"
    for name, rounds in runs.items():
        lines.append(
            f"| {name} | {figure(r['rps'] for r in rounds)} | {ratio(runs, name, naive, 'rps')} "
            f"| {ratio(runs, name, pooled, 'rps')} | {figure(r['cpu_us'] for r in rounds)} "
            f"| {ratio(runs, name, naive, 'cpu_us')} | {ratio(runs, name, pooled, 'cpu_us')} "
            f"| {figure((r['p50_ms'] for r in rounds), 1)} | {figure((r['p99_ms'] for r in rounds), 1)} "
            f"| {sum(r['errors'] for r in rounds)} |")
    return lines


def header(settings):
    return ["# Benchmark results", "",
            f"Machine: {machine()}. Load: {settings['loader']}, {settings['connections']} connections, "
            f"{settings['rounds']} rounds of {settings['requests']} requests per contender, alternating; "
            "every request a new address. Each contender under gunicorn.conf.py "
            "(%d gevent workers, like the Procfile; the threads setting %d only matters to gthread; "
            "worker recycling off). " % settings.get("split", (2, 16)) +
            "Figures: median (min-max) over the rounds; ratios are taken "
            "round by round. CPU: user+system time of the gunicorn master and all its workers (/proc), "
            "plus, for unsub-relay on PostgreSQL, that of the PostgreSQL backends serving its database, "
            "divided by the requests answered without error. Other work on the machine makes the figures "
            "noisy: the contenders alternate within each round so it falls on all of them alike.", ""]


SCHEME_TITLES = {"plain": "plain HTTP", "https": "HTTPS (a throwaway CA, trusted through REQUESTS_CA_BUNDLE)"}


def matrix_table(fast):
    """One table: webhooks/s and CPU per webhook for every contender that calls the upstream, per scheme."""
    lines = ["| contender | upstream | webhooks/s | CPU µs/webhook | of which PostgreSQL | CPU vs pooled "
             "| PostgreSQL backends busy per round | opened over all rounds |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for scheme, runs in fast.items():
        for name, rounds in runs.items():
            if name == "bare Flask":
                continue
            postgres = "PostgreSQL" in name
            lines.append(
                f"| {name} | {scheme} | {figure(r['rps'] for r in rounds)} "
                f"| {figure(r['cpu_us'] for r in rounds)} "
                f"| {figure(r['pg_cpu_us'] for r in rounds) if postgres else '-'} "
                f"| {ratio(runs, name, 'pooled forwarder', 'cpu_us')} "
                f"| {figure(r['backends_busy'] for r in rounds) if postgres else '-'} "
                f"| {sum(r['backends_started'] for r in rounds) if postgres else '-'} |")
    return lines


def store_table(fast):
    """PostgreSQL against SQLite, paired round by round, per upstream: the production store's cost."""
    lines = ["| upstream | CPU per webhook, PostgreSQL / SQLite | webhooks/s, PostgreSQL / SQLite |",
             "|---|---:|---:|"]
    for scheme, runs in fast.items():
        if SQLITE in runs and POSTGRES in runs:
            lines.append(f"| {scheme} | {ratio(runs, POSTGRES, SQLITE, 'cpu_us')} "
                         f"| {ratio(runs, POSTGRES, SQLITE, 'rps')} |")
    return lines if len(lines) > 2 else []


def main_sections(fast, memory, slow, backlog):
    """The default run: fast upstream (per scheme), 100 ms upstream, one worker's backlog, peak memory."""
    lines = ["## Fast upstream: SQLite and PostgreSQL, plain and HTTPS", "",
             "unsub-relay's CPU on PostgreSQL includes the PostgreSQL backends' (their own column); the "
             "forwarders keep no ledger. \"CPU vs pooled\" pairs each round with the pooled forwarder's on "
             "the same upstream. Backends busy: the PostgreSQL connections that did work in a round (the "
             "service's write connection and its read pool under gevent); opened: new ones over all rounds "
             "(pool churn).", "",
             *matrix_table(fast), ""]
    stores = store_table(fast)
    if stores:
        lines += ["PostgreSQL against SQLite, each round paired with the SQLite round beside it (the "
                  "PostgreSQL side counts its backends' CPU; targets: at most 1.3x the CPU, at least 0.8x "
                  "the throughput):", "", *stores, ""]
    for scheme, runs in fast.items():
        lines += [f"## Fast upstream, {SCHEME_TITLES[scheme]}", "", *contest_table(runs), ""]
    return lines + [
            "## Upstream at 100 ms", "",
            "| contender | req/s | CPU µs/request | p50 ms | p99 ms | errors |",
            "|---|---:|---:|---:|---:|---:|",
            f"| unsub-relay | {slow['rps']:.0f} | {slow['cpu_us']:.0f} | {slow['p50_ms']:.1f} | "
            f"{slow['p99_ms']:.1f} | {slow['errors']} |",
            "", "## Backlog drained by one worker (upstream at 50 ms)", "",
            "| queued | delivered | seconds (with start-up) | per second (with start-up) | "
            "per second (first to last delivery) |", "|---:|---:|---:|---:|---:|",
            f"| {backlog['count']} | {backlog['done']} | {backlog['seconds']:.2f} | {backlog['rate']:.0f} | "
            f"{backlog['drain_rate']:.0f} |",
            "", "## Peak memory (RSS)", "",
            "| process | MB |", "|---|---:|",
            f"| web worker (largest of unsub-relay's gunicorn workers, after the fast run) | {memory:.0f} |",
            f"| `flask worker` (after the backlog) | {backlog['rss_mb']:.0f} |", ""]


def splits_section(by_split, settings):
    """The fast contest again under each workers x threads split, all contenders on the same one
    (plain upstream, SQLite): {split: {contender: [round results]}}."""
    lines = ["## Worker/thread splits (fast upstream, all contenders on the same split)", "",
             f"{settings['split_rounds']} rounds of {settings['split_requests']} requests per contender; "
             "2 workers x 16 threads is the table above.", ""]
    for (workers, threads), runs in by_split.items():
        lines += [f"### {workers} workers x {threads} threads", "", *contest_table(runs), ""]
    return lines

"""CPU time of a process tree from /proc: what a PaaS bills, and steadier than throughput on shared cores.

A gunicorn master and its workers: each process's own user+system time plus the time of its children
that already ended and were reaped (cutime, cstime), so a worker that exits mid-measurement still counts.
"""

import os

TICKS = os.sysconf("SC_CLK_TCK")


def stat_times(text):
    """(utime, stime, cutime, cstime) in clock ticks from the text of /proc/<pid>/stat."""
    # The command name (field 2) sits in parentheses and may hold spaces or ')': split after the last ')'.
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime..cstime are fields 14 to 17.
    return tuple(int(value) for value in fields[11:15])


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:  # the process ended between listing and reading it
        return ""


def children(pid):
    """Direct children of a process (over all its threads)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        found += [int(p) for p in _read(f"/proc/{pid}/task/{tid}/children").split()]
    return found


def tree(pid):
    """The process and all its descendants."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += children(current)
    return pids


def tree_cpu_seconds(pid):
    """User+system CPU seconds used so far by a process tree, reaped children included."""
    ticks = 0
    for member in tree(pid):
        text = _read(f"/proc/{member}/stat")
        if text:
            ticks += sum(stat_times(text))
    return ticks / TICKS


def per_request_us(cpu_before, cpu_after, answered):
    """CPU microseconds per request answered without error (0 when none was)."""
    return (cpu_after - cpu_before) * 1e6 / answered if answered else 0.0

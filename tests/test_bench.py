"""The benchmark's smallest setting runs end to end, so it cannot rot. It asserts no speed."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_benchmark_smoke(tmp_path):
    out = tmp_path / "RESULTS.md"
    run = subprocess.run([sys.executable, "bench/run.py", "--smoke", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"})
    assert run.returncode == 0, run.stderr[-3000:]
    report = out.read_text()
    rows = {line.split("|")[1].strip(): line for line in report.splitlines() if line.startswith("| ")}
    for name in ("unsub-relay", "naive forwarder", "pooled forwarder", "bare Flask"):
        assert rows[name].rstrip(" |").endswith("| 0"), rows[name]  # no errors from any contender
    assert "| 50 | 50 |" in report  # the whole backlog was delivered

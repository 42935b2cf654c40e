"""bench/load.py still speaks to the app: a short run against a real server (2 sessions, 5 s)
rates, opens share links and retrains without an error. It checks the page's structure, not its
speed (latencies are the benchmark's business): the app's pages changed once under it unseen."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.integration
def test_the_load_benchmark_drives_the_app_without_errors(movielens):
    out = subprocess.run([sys.executable, "bench/load.py", "--sessions", "2", "--seconds", "5", "--think", "1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=400)
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text[-3000:]
    assert re.search(r"errors \(actions failed, tracebacks in log\)\s+0\s", text), text[-3000:]
    ratings = re.search(r"rating -> new recommendations\s+n=\s*(\d+)", text)
    assert ratings and int(ratings.group(1)) >= 2, text[-3000:]
    assert re.search(r"share link opened -> recommendations\s+n=\s*\d+", text), text[-3000:]
    assert re.search(r"tiny retraining \(click -> saved\)\s+n=\s*[1-9]", text), text[-3000:]  # one started in the 5 s, saved

"""Jobs with an owner and a budget: a training estimated over the budget is refused before it starts;
every job stops at its wall-clock limit and once its session is gone; a job's child process dies
with its server (a real parent process SIGKILLed, as the out-of-memory killer does) and saves
nothing; the slot is held across processes by a lock file in the models folder, which a restarted
server reads (stale ones, whose processes are gone or whose pids were reused, are removed)."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gnnrec.app import jobs, live, slot
from gnnrec.train import Cancelled

ROOT = Path(__file__).resolve().parent.parent
MAX_SPEC = live.TrainSpec(taps=(6, 6, 6), widths=(64, 64, 64), k=40, epochs=10, batch_size=8)


@pytest.fixture(autouse=True)
def models_dir(tmp_path, monkeypatch):
    """The slot's lock file goes to a temporary models folder."""
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("GNNREC_MODELS_DIR", str(folder))
    return folder


def gone(pid: int, within: float) -> bool:
    deadline = time.time() + within
    while time.time() < deadline:
        if not slot.alive(pid, None) or _zombie(pid):
            return True
        time.sleep(0.1)
    return False


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# -- the budget -------------------------------------------------------------------------------------------
def test_the_largest_settings_are_refused_with_their_estimate_before_starting(data, models_dir):
    problems = MAX_SPEC.problems()
    assert len(problems) == 1 and "over the 5-minute budget" in problems[0] and "min here" in problems[0]
    with pytest.raises(ValueError, match="budget"):
        live.start_training(data, MAX_SPEC, "too-long", folder=models_dir)
    assert jobs.running() is None and list(models_dir.iterdir()) == []
    small = live.TrainSpec(taps=(2,), widths=(4,), k=5, epochs=1, batch_size=64)
    assert small.problems() == [] and small.estimate_seconds() < live.BUDGET_SECONDS / 10


def test_the_estimate_grows_with_every_setting():
    base = live.TrainSpec(taps=(3, 3), widths=(32, 16), k=10, epochs=2, batch_size=32)
    import dataclasses

    for change in ({"epochs": 4}, {"taps": (5, 5)}, {"widths": (64, 32)}, {"k": 30}, {"batch_size": 8},
                   {"taps": (3, 3, 3), "widths": (32, 16, 16)}):
        assert dataclasses.replace(base, **change).estimate_seconds() > base.estimate_seconds(), change


# -- the wall-clock limit and an abandoned job ------------------------------------------------------------
def _poll_until_cancelled(report, cancelled):
    report("started")
    while not cancelled():
        time.sleep(0.02)
    raise Cancelled("stop")


def _ignore_cancel(report, cancelled):
    report(os.getpid())
    time.sleep(600)


def test_a_job_stops_at_its_wall_clock_limit():
    job = jobs.start_job("test", "long", _poll_until_cancelled, limit=0.5)
    assert job.wait(30) and job.state == "cancelled"
    assert "limit for one job" in job.error and "nothing was saved" in job.error
    assert jobs.running() is None


def test_a_child_that_ignores_the_limit_is_terminated(monkeypatch):
    monkeypatch.setattr(jobs, "CANCEL_GRACE", 0.5)
    job = jobs.start_job("test", "stuck", _ignore_cancel, process=True, limit=1.0)
    assert job.wait(120) and job.state == "cancelled" and "stopped after 1 s, the limit for one job" in job.error
    assert not job.process.is_alive() and job.process.exitcode == -signal.SIGTERM  # terminated
    assert jobs.running() is None


def test_an_abandoned_job_is_cancelled_after_its_grace_period():
    job = jobs.start_job("test", "mine", _poll_until_cancelled, owner="s1", grace=0.6)
    for _ in range(15):  # the session keeps running: the job keeps going
        job.touch()
        time.sleep(0.1)
    assert job.running and jobs.running() is job
    assert job.wait(30) and job.state == "cancelled" and "session that started it was gone" in job.error


def test_any_session_sees_the_running_job_and_how_far_it_is():
    job = jobs.start_job("test", "counted", functools.partial(_report_then_wait, 3), total=6, owner="alice")
    try:
        deadline = time.time() + 10
        while len(job.events()) < 3 and time.time() < deadline:
            time.sleep(0.02)
        seen = jobs.running()
        assert seen is job and seen.owner == "alice" and seen.label == "counted" and seen.progress() == 0.5
    finally:
        job.cancel()
    assert job.wait(10)


def _report_then_wait(n, report, cancelled):
    for i in range(n):
        report(i)
    while not cancelled():
        time.sleep(0.02)
    raise Cancelled("stop")


# -- dying with the server --------------------------------------------------------------------------------
PARENT = textwrap.dedent("""
    import functools, os, sys, time
    sys.path.insert(0, {tests!r})
    from gnnrec import data
    from gnnrec.app import jobs, live
    mode = sys.argv[1]
    if mode == "sleep":
        import test_job_limits as t
        job = jobs.start_job("test", "orphan", t._ignore_cancel, process=True)
    else:
        spec = live.TrainSpec(taps=(3, 3), widths=(32, 16), k=10, epochs=4, batch_size=32)
        job = live.start_training(data.load(), spec, "orphan", folder=__import__("pathlib").Path(sys.argv[2]))
    while not job.events() and job.running:
        time.sleep(0.05)
    print("CHILD", job.process.pid, flush=True)
    time.sleep(600)
""")


def start_parent(mode: str, folder: Path) -> tuple[subprocess.Popen, int]:
    """A process that holds a job as the server does; returns it and its job's child pid."""
    code = PARENT.format(tests=str(ROOT / "tests"))
    env = dict(os.environ, GNNREC_MODELS_DIR=str(folder))
    proc = subprocess.Popen([sys.executable, "-c", code, mode, str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("CHILD "):
            return proc, int(line.split()[1])
    proc.wait(5)
    raise AssertionError("the parent never started its job: " + "".join(lines)[-2000:])


def test_a_job_child_dies_with_its_server(models_dir):
    proc, child = start_parent("sleep", models_dir)
    try:
        assert slot.alive(child, None) and not _zombie(child)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert gone(child, within=10), f"the job's child {child} outlived its server"
    finally:
        for pid in (proc.pid, child):
            if slot.alive(pid, None):
                os.kill(pid, signal.SIGKILL)
        proc.stdout.close()


def test_a_training_whose_server_is_killed_saves_nothing(models_dir):
    """Before: the child lived on at PPID 1, finished and saved 'orphan.pt'."""
    proc, child = start_parent("train", models_dir)
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert gone(child, within=10)
        time.sleep(2)
        assert not (models_dir / "orphan.pt").exists()
        assert jobs.start_job("test", "next", lambda r, c: "ok").wait(10)  # the slot is free: the lock file is stale
    finally:
        for pid in (proc.pid, child):
            if slot.alive(pid, None):
                os.kill(pid, signal.SIGKILL)
        proc.stdout.close()
    assert [p.name for p in models_dir.iterdir() if not p.name.startswith(".")] == []


# -- the lock file across processes -------------------------------------------------------------------------
def test_a_restarted_server_sees_a_job_of_another_process_holding_the_slot(models_dir):
    proc, child = start_parent("sleep", models_dir)
    try:
        held = json.loads((models_dir / slot.LOCK_NAME).read_text())
        assert held["pid"] == proc.pid and held["child"] == child and held["what"] == "test orphan"
        with pytest.raises(jobs.Busy, match=rf"test orphan started 0 min ago by another server process \(pid {child}\)"):
            jobs.start_job("test", "second", lambda r, c: None)
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
    assert gone(child, within=10)
    job = jobs.start_job("test", "after", lambda r, c: "ok")
    assert job.wait(10) and job.result == "ok"
    assert not (models_dir / slot.LOCK_NAME).exists()  # removed when the job ended


def test_a_job_child_that_outlives_its_killed_server_still_holds_the_slot(models_dir):
    """The server's flock went with it, but its job's child (spawned: it holds no lock) still runs:
    the record's child pid and start time keep the slot until it ends."""
    child = subprocess.Popen(["sleep", "60"])
    try:
        record = {"pid": 999_999_999, "start": 1, "child": child.pid, "child_start": slot.process_start(child.pid),
                  "what": "training orphan", "since": time.time()}
        (models_dir / slot.LOCK_NAME).write_text(json.dumps(record))
        with pytest.raises(jobs.Busy, match=rf"training orphan started 0 min ago by another server process \(pid {child.pid}\)"):
            jobs.start_job("test", "second", lambda r, c: None)
        assert json.loads((models_dir / slot.LOCK_NAME).read_text())["child"] == child.pid  # left as it was
    finally:
        child.kill()
        child.wait()
    job = jobs.start_job("test", "after", lambda r, c: "ok")
    assert job.wait(10) and job.result == "ok"
    assert not (models_dir / slot.LOCK_NAME).exists()


@pytest.mark.parametrize("record", [
    {"pid": 999_999_999, "start": 1, "child": None, "what": "x"},  # no such process
    {"pid": 1, "start": -5, "child": None, "what": "x"},  # pid 1 is alive, but started at another time: reused
    "not json",
    "fifo",  # a FIFO in its place: opening it to read used to wait for a writer, blocking every job
])
def test_a_stale_or_damaged_lock_file_frees_the_slot(models_dir, record):
    if record == "fifo":
        os.mkfifo(models_dir / slot.LOCK_NAME)
    else:
        (models_dir / slot.LOCK_NAME).write_text(record if isinstance(record, str) else json.dumps(record))
    job = jobs.start_job("test", "fresh", lambda r, c: "ok")
    assert job.wait(10) and job.result == "ok"
    assert not (models_dir / slot.LOCK_NAME).exists()


READ_ONLY = textwrap.dedent("""
    import ctypes, os, subprocess, sys
    from pathlib import Path

    folder = Path(sys.argv[1])
    if os.geteuid() == 0:  # root ignores permissions: a read-only bind mount, in a mount namespace of our own
        if ctypes.CDLL(None, use_errno=True).unshare(0x00020000) != 0:  # CLONE_NEWNS, while single-threaded
            print("no-namespace"); sys.exit(0)
        subprocess.run(["mount", "--make-rprivate", "/"], check=True)

    def read_only():
        if os.geteuid() != 0:
            os.chmod(folder, 0o555)
            return
        for cmd in (["mount", "--bind", str(folder), str(folder)], ["mount", "-o", "remount,bind,ro", str(folder)]):
            subprocess.run(cmd, check=True)

    from gnnrec.app import jobs, slot
    lock = folder / slot.LOCK_NAME
    if sys.argv[2] == "restart":  # a server killed during a job left its file; the folder is read-only now
        read_only()
    else:  # this server's job ran while the folder became read-only: its file could not be removed
        job = jobs.start_job("test", "first", lambda r, c: (read_only(), "ok")[1], folder=folder)
        assert job.wait(30) and job.result == "ok", job.error
        assert lock.exists()
    try:
        (folder / "probe").write_text("x")
        print("still-writable")
    except OSError:
        pass
    for i in range(2):  # the next presses of Train: each job runs
        job = jobs.start_job("test", f"press {i}", lambda r, c: "ok", folder=folder)
        print(job.wait(30) and job.result)
""")


@pytest.mark.parametrize("case", ["restart", "second-press"])
def test_a_read_only_models_folder_never_blocks_or_breaks_the_next_job(tmp_path, case):
    """A real read-only folder (a read-only bind mount; a chmod when not root) holding a lock file that
    cannot be removed: after a restart every job used to be refused ("another server process is
    starting a job"), and this server's own next job raised PermissionError (an error box on Train)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if case == "restart":
        dead = subprocess.Popen(["true"])  # a pid whose process has ended
        dead.wait()
        (folder / slot.LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "start": 1, "child": None, "what": "old"}))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", READ_ONLY, str(folder), case], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    if proc.stdout.startswith("no-namespace"):
        pytest.skip("no mount namespace here for a read-only folder")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["ok", "ok"], proc.stdout + proc.stderr[-2000:]
    assert (folder / slot.LOCK_NAME).exists()  # the stale file stays (nobody can remove it), harmlessly

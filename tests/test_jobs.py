"""gnnrec.app.jobs: one heavy job at a time, a clear Busy for the second; background jobs (threads and
child processes) report progress, cancel, fail with a reason (a killed child too) and free the slot."""

import functools
import os
import signal
import sys
import threading
import time

import pytest

from gnnrec.app import jobs
from gnnrec.app.jobs import Busy, HeavyJobLock
from gnnrec.train import Cancelled


def test_second_job_is_refused_with_a_clear_message_and_the_lock_frees():
    lock = HeavyJobLock()
    started, release = threading.Event(), threading.Event()

    def first():
        with lock.hold("alice", "training model 'a'"):
            started.set()
            release.wait(5)

    t = threading.Thread(target=first)
    t.start()
    assert started.wait(5)
    assert lock.current is not None and lock.current.owner == "alice"
    with pytest.raises(Busy, match="another user started training model 'a'.*try again"):
        with lock.hold("bob", "training model 'b'"):
            pytest.fail("a second job must not run")
    release.set()
    t.join(5)
    assert lock.current is None
    with lock.hold("bob", "training model 'b'") as info:  # free again
        assert info.owner == "bob"


def test_lock_released_when_the_job_raises():
    lock = HeavyJobLock()
    with pytest.raises(ValueError):
        with lock.hold("a", "x"):
            raise ValueError("boom")
    with lock.hold("a", "y"):
        assert lock.current.what == "y"


# -- background jobs ---------------------------------------------------------------------------------------
def test_job_runs_reports_and_frees_the_slot():
    job = jobs.start_job("test", "quick", lambda report, cancelled: [report(i) for i in range(3)] and "ok")
    assert job.wait(10) and job.state == "done" and job.result == "ok" and job.events() == [0, 1, 2]
    assert jobs.HEAVY.current is None


def test_a_first_event_comes_before_anything_the_work_reports():
    """In a thread the work may report at once; the job's first event (the page's "starting") is
    still first, not overtaken by it."""
    job = jobs.start_job("test", "eager", lambda report, cancelled: report("work") or "ok", first_event="starting")
    assert job.wait(10) and job.events() == ["starting", "work"]


def test_one_job_at_a_time_and_cancel():
    go = threading.Event()

    def slow(report, cancelled):
        go.set()
        while not cancelled():
            time.sleep(0.01)
        raise Cancelled("stop")

    job = jobs.start_job("test", "slow", slow)
    try:
        assert go.wait(5)
        with pytest.raises(jobs.Busy, match="another user started test slow.*one training or live evaluation"):
            jobs.start_job("test", "second", lambda r, c: None, owner="bob")
        with pytest.raises(jobs.Busy, match="you started test slow"):
            jobs.start_job("test", "again", lambda r, c: None, owner="app")
    finally:
        job.cancel()
    assert job.wait(10) and job.state == "cancelled" and "nothing was saved" in job.error


def test_failing_job_says_why():
    def bad(report, cancelled):
        raise ValueError("epochs=99 is too many")

    job = jobs.start_job("test", "bad", bad)
    assert job.wait(10) and job.state == "failed" and job.error == "epochs=99 is too many"
    boom = jobs.start_job("test", "boom", lambda r, c: 1 / 0)
    assert boom.wait(10) and boom.state == "failed" and boom.error.startswith("ZeroDivisionError")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities: Linux only")
def test_job_thread_and_its_threads_run_at_the_lowest_priority():
    def fn(report, cancelled):
        inner = {}
        t = threading.Thread(target=lambda: inner.setdefault("nice", os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        t.start()
        t.join()
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), inner["nice"]

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    job = jobs.start_job("test", "priority", fn)
    assert job.wait(30)
    assert job.result == (jobs.NICE, jobs.NICE)  # the job's thread, and a thread it started
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before  # the caller's is untouched


# -- jobs in a child process (module-level functions: the child imports this file to unpickle them) -------
def _count(n, report, cancelled):
    for i in range(n):
        report({"i": i})
    return {"pid": os.getpid(), "nice": os.getpriority(os.PRIO_PROCESS, 0) if sys.platform.startswith("linux") else None}


def _refuse(report, cancelled):
    raise ValueError("taps=0: choose 1..10")


def _until_cancelled(path, report, cancelled):
    report("started")
    while not cancelled():
        time.sleep(0.02)
    with open(path, "w") as f:
        f.write("saw the cancel")
    raise Cancelled("stop")


def _sleep_forever(report, cancelled):
    report(os.getpid())
    time.sleep(600)


def test_process_job_reports_returns_and_runs_at_the_lowest_priority():
    job = jobs.start_job("test", "child", functools.partial(_count, 3), process=True, on_done=lambda r: {**r, "seen": 1})
    assert job.wait(120) and job.state == "done", job.error
    assert job.events() == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert job.result["pid"] != os.getpid() and job.result["seen"] == 1  # ran elsewhere; on_done ran here
    if sys.platform.startswith("linux"):
        assert job.result["nice"] == jobs.NICE
    assert jobs.HEAVY.current is None and not job.process.is_alive()


def test_process_job_failure_and_cancel_come_back_with_their_reasons(tmp_path):
    bad = jobs.start_job("test", "bad", _refuse, process=True)
    assert bad.wait(120) and bad.state == "failed" and bad.error == "taps=0: choose 1..10"
    marker = tmp_path / "cancelled"
    job = jobs.start_job("test", "slow", functools.partial(_until_cancelled, str(marker)), process=True)
    deadline = time.time() + 120
    while not job.events() and time.time() < deadline:
        time.sleep(0.05)
    with pytest.raises(jobs.Busy):
        jobs.start_job("test", "second", _refuse, owner="bob", process=True)
    job.cancel()
    assert job.wait(60) and job.state == "cancelled" and "nothing was saved" in job.error
    assert marker.read_text() == "saw the cancel"  # the child stopped by itself
    assert jobs.HEAVY.current is None


def test_a_killed_child_process_fails_the_job_and_frees_the_server():
    job = jobs.start_job("test", "doomed", _sleep_forever, process=True)
    deadline = time.time() + 120
    while not job.events() and time.time() < deadline:
        time.sleep(0.05)
    (pid,) = job.events()
    os.kill(pid, signal.SIGKILL)
    assert job.wait(30) and job.state == "failed"
    assert "ended unexpectedly" in job.error and "start it again" in job.error
    assert jobs.HEAVY.current is None
    again = jobs.start_job("test", "next", functools.partial(_count, 1), process=True)  # the slot is free
    assert again.wait(120) and again.state == "done"


def test_where_jobs_run_is_chosen_by_an_environment_variable(monkeypatch):
    monkeypatch.delenv("GNNREC_JOBS", raising=False)
    assert jobs.use_processes()
    monkeypatch.setenv("GNNREC_JOBS", "thread")
    assert not jobs.use_processes()
    monkeypatch.setenv("GNNREC_JOBS", "fork")
    with pytest.raises(ValueError, match=r"GNNREC_JOBS='fork': choose one of \('process', 'thread'\)"):
        jobs.use_processes()


def test_a_failing_on_done_still_ends_the_job_and_frees_the_server():
    def broken(result):
        raise KeyError("cache")

    job = jobs.start_job("test", "child", functools.partial(_count, 1), process=True, on_done=broken)
    assert job.wait(120) and job.state == "failed" and job.error.startswith("KeyError")
    assert jobs.HEAVY.current is None

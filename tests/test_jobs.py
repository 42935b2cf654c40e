"""gnnrec.jobs: one heavy job at a time, a clear Busy for the second."""

import threading

import pytest

from gnnrec.jobs import Busy, HeavyJobLock


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

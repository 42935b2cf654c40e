"""The app's jobs as users meet them (AppTest, real data, real training processes): settings over the
time budget are refused with the estimate; another session sees the running job in the sidebar
(what, whose, how far) without a cancel button; the owner cancels it from any page and keeps it
across a reload (the job's token in the URL); a job whose session is gone is cancelled after the
grace period."""

from __future__ import annotations

import re

import pytest
from helpers import ROOT, models_copy
from streamlit.testing.v1 import AppTest

from gnnrec.app import jobs

APP = str(ROOT / "app.py")


@pytest.fixture
def models(tmp_path, monkeypatch):
    folder = models_copy(tmp_path / "models")
    monkeypatch.setenv("GNNREC_MODELS_DIR", str(folder))
    yield folder
    job = jobs.running()
    if job is not None:  # never leave a training behind for the next test
        job.cancel()
        job.wait(60)


def texts(elements) -> str:
    return re.sub(r"\\(.)", r"\1", " | ".join(str(e.value) for e in elements))


def clean(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def session(page: str = "pages/train.py", **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for k, v in params.items():
        at.query_params[k] = v
    return clean(at.switch_page(page).run())


def start_training(at: AppTest, name: str) -> jobs.Job:
    """The Train page's default settings (long enough to watch), started."""
    at.text_input(key="tr_name").set_value(name)
    at.button(key="tr_start").click().run()
    clean(at)
    return at.session_state["train_job"]


def test_settings_over_the_budget_are_refused_with_the_estimate(models):
    at = session()
    at.number_input(key="tr_layers").set_value(3).run()
    for i in range(3):
        at.number_input(key=f"tr_taps_{i}").set_value(6)
        at.number_input(key=f"tr_width_{i}").set_value(64)
    at.number_input(key="tr_k").set_value(40)
    at.number_input(key="tr_epochs").set_value(10)
    at.number_input(key="tr_batch").set_value(8)
    at.text_input(key="tr_name").set_value("huge")
    at.button(key="tr_start").click().run()
    clean(at)
    assert "Not accepted" in texts(at.warning) and "over the 5-minute budget" in texts(at.warning)
    assert "Not started" in texts(at.error) and "budget" in texts(at.error)
    assert "train_job" not in at.session_state and jobs.running() is None


def test_another_session_sees_the_job_and_only_the_owner_can_cancel(models):
    owner = session()
    job = start_training(owner, "watched")
    other = session("pages/recommend.py")
    seen = texts(other.sidebar.caption)
    assert "Running: another user's training 'watched'" in seen and "Only the tab that started it can cancel" in seen
    assert "sb_cancel_job" not in [b.key for b in other.button]  # no cancel button anywhere for another user
    other.switch_page("pages/train.py").run()  # told before filling the form, and Train is closed
    assert "busy with another user's training 'watched'" in texts(other.info)
    assert other.button(key="tr_start").disabled
    other.switch_page("pages/compare.py").run()
    other.radio(key="cmp_source").set_value("Run live").run()
    assert "busy with another user's training 'watched'" in texts(other.info) and other.button(key="cmp_run").disabled
    owner.switch_page("pages/neighbourhood.py").run()  # the owner, on another page: the sidebar's button
    assert "Your training 'watched'" in texts(owner.sidebar.caption)
    owner.button(key="sb_cancel_job").click().run()
    assert job.wait(60) and job.state == "cancelled" and job.error == "cancelled by you; nothing was saved"
    assert not (models / "watched.pt").exists()


def test_a_reload_keeps_the_job_with_its_owner(models):
    first = session()
    job = start_training(first, "kept")
    token = job_param(first)
    assert token == job.token and token != first.session_state["_owner"]  # the job's, not the session's id
    reloaded = session("pages/train.py", job=token)  # a new session from the same URL
    assert reloaded.session_state["train_job"] is job
    assert "Your training 'kept'" in texts(reloaded.sidebar.caption)
    reloaded.button(key="tr_cancel").click().run()
    assert job.wait(60) and job.state == "cancelled"
    stranger = session("pages/train.py", job="not-the-token")
    assert "train_job" not in stranger.session_state and not stranger.warning  # ignored, silently


def job_param(at: AppTest) -> str:
    token = at.query_params["job"]
    return token[-1] if isinstance(token, list) else token


def test_a_copied_job_address_gives_that_job_alone_never_the_owners_next(models):
    """Someone opens an address the owner copied during a job (``&job=TOKEN``): that job is the
    token's, but the owner's next job is not theirs to cancel (the token used to be the owner's
    session id: it cancelled every later job of the owner, who was told "cancelled by you")."""
    owner = session()
    first = start_training(owner, "first")
    copied = job_param(owner)
    first.cancel("cancelled by the owner")
    assert first.wait(60)
    owner.run()
    second = start_training(owner, "second")
    assert job_param(owner) != copied
    stranger = session("pages/recommend.py", job=copied)
    assert "sb_cancel_job" not in [b.key for b in stranger.button]
    assert "Running: another user's training 'second'" in texts(stranger.sidebar.caption)
    assert "train_job" not in stranger.session_state and "job" not in stranger.query_params
    stranger.switch_page("pages/train.py").run()
    assert stranger.button(key="tr_start").disabled and "tr_cancel" not in [b.key for b in stranger.button]
    assert second.running and not second.cancel_requested
    odd = session("pages/train.py", job="jöb-ß")  # a non-ASCII token: ignored like any other wrong one
    assert "train_job" not in odd.session_state


def test_a_job_whose_session_is_gone_is_cancelled_after_the_grace_period(models, monkeypatch):
    monkeypatch.setattr(jobs, "ABANDON_GRACE", 2.0)
    at = session()
    job = start_training(at, "abandoned")
    assert job.grace == 2.0
    del at  # the tab is closed: nothing runs for this session any more
    assert job.wait(120) and job.state == "cancelled"
    assert "the session that started it was gone for 2 s" in job.error
    assert not (models / "abandoned.pt").exists() and jobs.running() is None

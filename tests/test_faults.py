"""Faults that cut across modules: the disk full during a save (store, live training, the training
job, the CLI), a training cancelled half-way or killed mid-write, and what each leaves behind.

Every case: a clear message (a StoreError / exit 2 with "error: ...", never a traceback), the old
model file intact, and no temporary file left in the models folder. The app side (a model file
deleted or truncated under a running session, a restart) is in tests/test_app.py.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest

from gnnrec import cli, store
from gnnrec import data as data_mod
from gnnrec.app import catalog, jobs, live
from gnnrec.train import Cancelled

REPO_MODELS = Path(__file__).resolve().parent.parent / "models"
TINY = live.TrainSpec(taps=(2,), widths=(4,), k=5, epochs=1, lr=0.01, batch_size=64)


@pytest.fixture(scope="module")
def data():
    return data_mod.load()


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- disk full ------------------------------------------------------------------------------------------
def test_disk_full_keeps_the_old_model_and_leaves_no_temp_file(tmp_path, monkeypatch, disk_full):
    shutil.copy(REPO_MODELS / "all-movies.pt", tmp_path / "all-movies.pt")
    old = (tmp_path / "all-movies.pt").read_bytes()
    ckpt = store.load("all-movies", tmp_path)
    for name in ("all-movies", "new-one"):  # replacing an existing model, and a new one
        with pytest.raises(store.StoreError, match=rf"could not save model '{name}'.*the disk is full.*unchanged"):
            store.save(ckpt.predictor, name, metrics=ckpt.metrics, data_fingerprint=ckpt.data_fingerprint,
                       folder=tmp_path)
    monkeypatch.undo()  # space again
    assert files(tmp_path) == ["all-movies.pt"]
    assert (tmp_path / "all-movies.pt").read_bytes() == old
    assert store.load("all-movies", tmp_path).metrics == ckpt.metrics


def test_disk_full_after_training_is_a_clear_job_failure(data, tmp_path, disk_full, capsys, monkeypatch):
    """What the Train page shows: the job fails with the store's message, no traceback printed.
    (In a thread: the simulated full disk is this process's; a child's failure comes back the same way, test_jobs.)"""
    monkeypatch.setenv("GNNREC_JOBS", "thread")
    job = live.start_training(data, TINY, "full", folder=tmp_path)
    assert job.wait(120)
    assert job.state == "failed" and "the disk is full" in job.error and "Free some space" in job.error
    assert jobs.HEAVY.current is None  # the server is free again
    assert "Traceback" not in capsys.readouterr().err
    assert files(tmp_path) == []


def test_disk_full_in_the_cli_is_an_error_exit(tmp_path, monkeypatch, capsys, disk_full):
    ckpt = store.load("star-wars", REPO_MODELS)
    monkeypatch.setenv("GNNREC_MODELS_DIR", str(tmp_path))
    from gnnrec import evaluate

    monkeypatch.setattr(evaluate, "train_target_model",
                        lambda *a, **k: (ckpt.predictor, dict(ckpt.metrics), dict(ckpt.extra)))
    assert cli.main(["train", "--target", "50", "--name", "cli-full"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: could not save model 'cli-full'") and "the disk is full" in err
    assert "Traceback" not in err
    assert files(tmp_path) == []


def test_other_write_errors_in_the_cli_are_error_exits(monkeypatch, capsys):
    def unwritable(args):
        raise PermissionError(errno.EACCES, "Permission denied", "results/x.json")

    monkeypatch.setattr(cli, "cmd_models", unwritable)
    assert cli.main(["models"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Permission denied" in err and "Traceback" not in err


# -- cancelled or killed half-way ----------------------------------------------------------------------------
def test_training_cancelled_half_way_leaves_no_model_and_no_temp_file(data, tmp_path):
    events = []
    spec = live.TrainSpec(taps=(2,), widths=(4,), k=5, epochs=3, lr=0.01, batch_size=64)
    with pytest.raises(Cancelled):
        live.train_model(data, spec, "half", on_progress=events.append, cancel=lambda: len(events) >= 2,
                         folder=tmp_path)
    assert 2 <= len(events) and events[-1].step < spec.steps()  # it did start, and stopped early
    assert files(tmp_path) == []


def test_training_job_cancelled_half_way_frees_the_server_and_saves_nothing(data, tmp_path):
    spec = live.TrainSpec(taps=(2,), widths=(4,), k=5, epochs=3, lr=0.01, batch_size=64)
    job = live.start_training(data, spec, "half-job", folder=tmp_path)
    for _ in range(600):  # cancel after the first progress event
        if job.events() or not job.running:
            break
        job.wait(0.1)
    job.cancel()
    assert job.wait(60) and job.state == "cancelled" and "nothing was saved" in job.error
    assert jobs.HEAVY.current is None
    assert files(tmp_path) == []
    assert live.check_new_name("half-job", tmp_path) == "half-job"  # the name is still free


def test_a_write_killed_half_way_leaves_only_an_ignored_temp_file(data, tmp_path):
    """A process killed inside atomic_write_bytes leaves its temporary file (``.NAME.pt.XXXX.tmp``),
    never a partial ``NAME.pt``: the store, the app's model list and the name check ignore it."""
    shutil.copy(REPO_MODELS / "all-movies.pt", tmp_path / "all-movies.pt")
    raw = (tmp_path / "all-movies.pt").read_bytes()
    (tmp_path / ".killed.pt.abc123.tmp").write_bytes(raw[: len(raw) // 3])
    (tmp_path / ".all-movies.pt.def456.tmp").write_bytes(raw[:100])
    assert store.list_names(tmp_path) == ["all-movies"]
    [info] = catalog.list_models(data.fingerprint(), tmp_path)
    assert info.name == "all-movies" and info.ok
    assert live.check_new_name("killed", tmp_path) == "killed"


def test_a_training_process_killed_half_way_leaves_the_store_intact(tmp_path):
    """``python -m gnnrec train`` SIGKILLed while it trains: no ``killed.pt``, the other models
    byte-identical, the model list unchanged, and a leftover temporary file (if any) ignored.

    The command runs through ``runpy`` with one addition: it prints ``TRAINING`` at its first
    optimiser step, so the kill lands mid-training whatever the machine's speed (a fixed delay would
    hit the imports on a slow machine and the save on a fast one)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    for f in REPO_MODELS.glob("*.pt"):
        shutil.copy(f, tmp_path / f.name)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    names = store.list_names(tmp_path)
    hook = ("import runpy, sys, torch\n"
            "update = torch.optim.Adam.step\n"
            "def marked(self, *a, **k):\n"
            "    if not getattr(torch, '_marked', False):\n"
            "        torch._marked = True\n"
            "        print('TRAINING', flush=True)\n"
            "    return update(self, *a, **k)\n"
            "torch.optim.Adam.step = marked\n"
            "sys.argv = ['gnnrec'] + sys.argv[1:]\n"
            "runpy.run_module('gnnrec', run_name='__main__', alter_sys=True)\n")
    cmd = [sys.executable, "-c", hook, "train", "--task", "all", "--epochs", "3", "--name", "killed",
           "--features", "4", "--taps", "2"]
    env = dict(os.environ, GNNREC_MODELS_DIR=str(tmp_path))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=REPO_MODELS.parent)
    try:
        out = []
        for line in proc.stdout:  # until the first optimiser step (or the end of the process)
            out.append(line)
            if line.strip() == "TRAINING":
                break
        assert out and out[-1].strip() == "TRAINING", f"training did not start: {''.join(out)[-2000:]}"
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL  # killed, not finished
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
    assert not (tmp_path / "killed.pt").exists()
    assert store.list_names(tmp_path) == names
    for name, raw in before.items():
        assert (tmp_path / name).read_bytes() == raw, f"{name} changed"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in before]
    assert all(n.startswith(".killed.pt.") and n.endswith(".tmp") for n in leftovers), leftovers
    (tmp_path / ".killed.pt.xyz.tmp").write_bytes(b"partial")  # a kill inside the save would leave this
    assert store.list_names(tmp_path) == names
    assert live.check_new_name("killed", tmp_path) == "killed"  # the name is still free

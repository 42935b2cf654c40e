"""The CLI's guards: overwrites on purpose only (``--force``; the default all-movies model never
replaced by a one-movie model), output paths checked before any long work, and every error one
line with exit code 2 (a crash included)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import gnnrec.data
from gnnrec import cli, evaluate, store

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def models(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for f in (REPO / "models").glob("*.pt"):
        shutil.copy(f, folder / f.name)
    monkeypatch.setenv("GNNREC_MODELS_DIR", str(folder))
    return folder


@pytest.fixture
def no_work(monkeypatch):
    """Loading the data (the first step of any long command) fails the test: the guard must come first."""
    def load(*a, **k):
        pytest.fail("the command started its work before checking its arguments")

    monkeypatch.setattr(gnnrec.data, "load", load)


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("argv, message", [
    (["train", "--task", "target", "--name", "all-movies"], "a one-movie model cannot replace it"),
    (["train", "--task", "target", "--name", "all-movies", "--force"], "a one-movie model cannot replace it"),
    (["train", "--task", "all", "--name", "all-movies"], "exists already; add --force"),
    (["train", "--target", "50", "--name", "star-wars"], "exists already; add --force"),
])
def test_train_refuses_to_replace_a_model_without_force(models, no_work, capsys, argv, message):
    before = {p.name: p.read_bytes() for p in models.iterdir()}
    assert cli.main(argv) == 2
    assert message in error_line(capsys)
    assert {p.name: p.read_bytes() for p in models.iterdir()} == before


def test_train_with_force_replaces_a_model(models, movielens, monkeypatch, capsys):
    ckpt = store.load("star-wars", models)
    monkeypatch.setattr(gnnrec.data, "load", lambda *a, **k: movielens)
    monkeypatch.setattr(evaluate, "train_target_model",
                        lambda *a, **k: (ckpt.predictor, {"test_rmse": 0.5}, dict(ckpt.extra)))
    assert cli.main(["train", "--target", "50", "--name", "star-wars", "--force"]) == 0
    assert store.load("star-wars", models).metrics == {"test_rmse": 0.5}


@pytest.mark.parametrize("where", ["under-a-file", "a-folder"])
def test_evaluate_checks_its_output_path_before_running(tmp_path, no_work, capsys, where):
    (tmp_path / "file.txt").write_text("x")
    path = tmp_path / "file.txt" / "out.json" if where == "under-a-file" else tmp_path
    assert cli.main(["evaluate", "--target", "50", "--splits", "1", "--json", str(path)]) == 2
    err = error_line(capsys)
    assert f"--json {path}" in err and "nothing was run" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]  # no probe file left


def test_train_checks_the_models_folder_before_training(tmp_path, monkeypatch, no_work, capsys):
    (tmp_path / "file.txt").write_text("x")
    monkeypatch.setenv("GNNREC_MODELS_DIR", str(tmp_path / "file.txt" / "models"))
    assert cli.main(["train", "--target", "50", "--name", "new"]) == 2
    assert "cannot write there" in error_line(capsys)


def test_an_unexpected_error_is_still_one_line_and_exit_2(monkeypatch, capsys):
    def crash(args):
        raise RuntimeError("first line\nsecond line")

    monkeypatch.setattr(cli, "cmd_models", crash)
    assert cli.main(["models"]) == 2
    assert error_line(capsys) == "error: RuntimeError: first line second line\n"


@pytest.mark.parametrize("argv, message", [
    (["--taps", "21,21"], "up to 20 taps per layer"),
    (["--features", "2000"], "widths up to 1024"),
    (["--features", "1024,1024", "--taps", "20,20"], "over the 500,000 one model may have"),
])
def test_train_refuses_an_architecture_the_store_would_call_corrupt(models, no_work, capsys, argv, message):
    """Before the data is loaded, with the bounds the store checks (gnnrec.models defines them once)."""
    assert cli.main(["train", "--task", "all", "--name", "too-big", *argv]) == 2
    assert message in error_line(capsys)
    assert not (models / "too-big.pt").exists()


def test_a_pickle_of_another_protocol_is_a_one_line_error(models):
    """A protocol-4 pickle in models/: torch's warnings used to add two lines to the error."""
    import os
    import pickle
    import subprocess
    import sys

    (models / "p4.pt").write_bytes(pickle.dumps({"a": 1}, protocol=4))
    env = {**os.environ, "GNNREC_DATA_DIR": str(gnnrec.data.cache_dir())}
    proc = subprocess.run([sys.executable, "-m", "gnnrec", "recommend", "--rate", "50=5", "--model", "p4"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("error: model 'p4' is corrupt") and "weights_only" not in proc.stderr

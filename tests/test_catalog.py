"""gnnrec.app.catalog: the model list (unreadable files reported, not raised), store signatures, the
default model."""

from __future__ import annotations

import shutil

import pytest

from gnnrec import data as data_mod
from gnnrec import store
from gnnrec.app import catalog


@pytest.fixture(scope="module")
def data():
    return data_mod.load()


# -- model list ---------------------------------------------------------------------------------------------
def test_list_models_reports_unreadable_files(data, tmp_path):
    (tmp_path / "broken.pt").write_bytes(b"garbage")
    (tmp_path / "bad name.pt").write_bytes(b"ignored: not a valid model name")
    [info] = catalog.list_models(data.fingerprint(), tmp_path)
    assert info.name == "broken" and not info.ok and "corrupt" in info.error
    assert catalog.default_model([info]) is None
    table = catalog.models_table([info])
    assert table.loc[0, "usable"] == "no: unreadable"
    sig = catalog.store_signature(tmp_path)
    (tmp_path / "broken.pt").write_bytes(b"garbage, longer")
    assert catalog.store_signature(tmp_path) != sig
    assert catalog.model_signature("missing", tmp_path) == (None, None, None)


def test_committed_model_is_listed(data):
    infos = catalog.list_models(data.fingerprint())
    assert catalog.default_model(infos) == "all-movies"
    assert "valid RMSE" in next(i for i in infos if i.name == "all-movies").describe()


def test_recipe_reads_the_committed_model_config(data):
    info = next(i for i in catalog.list_models(data.fingerprint()) if i.name == "all-movies")
    cfg = info.config
    assert catalog.recipe(info) == (f"widths {'/'.join(map(str, cfg['model']['features']))}, "
                                    f"taps {'/'.join(map(str, cfg['model']['taps']))}, k={info.graph['k']}, "
                                    f"{cfg['train']['epochs']} epochs")
    assert catalog.recipe(info).startswith("widths 64/32, taps 5/5")  # the reference architecture


def test_a_model_made_for_other_data_says_so(data, tmp_path):
    shutil.copyfile(store.models_dir() / "all-movies.pt", tmp_path / "elsewhere.pt")
    [info] = catalog.list_models("0123456789abcdef", tmp_path)  # not this data's fingerprint
    assert not info.ok and "trained on data" in info.error
    assert catalog.models_table([info]).loc[0, "usable"] == "no: made for other data"
    [same] = catalog.list_models(data.fingerprint(), tmp_path)
    assert catalog.models_table([same]).loc[0, "usable"] == "yes"

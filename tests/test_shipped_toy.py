"""The shipped toy (maft.toy.shipped): reused only for the very pretraining that made it."""

import json
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from conftest import ROOT, TINY, snakemake
from maft import plan
from maft.datasets import dataset_splits
from maft.toy.shipped import code_digest, find_shipped, pretraining_key

TOY = {"seed": 0, "steps": 10, "mix": {"solve": 1.0}, "shipped": "resources/toy"}


def default_config() -> dict:
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    validate(config, str(ROOT / "config/config.schema.yaml"))  # fills the schema's defaults, as the Snakefile does
    return config


def held_out_ids(config: dict) -> set[str]:
    """The problem ids the study's toy_base_model job excludes: every split of its arithmetic datasets."""
    ids = set()
    for name in plan.all_datasets(config):
        d = config["dataset_definitions"][name]
        if d["kind"] == "arithmetic":
            for frame in dataset_splits(d, config["seed"], name).values():
                ids |= set(frame["problem_id"])
    return ids


def test_the_shipped_toy_is_the_default_studys_pretraining():
    """Fails when the default toy settings, problems or toy code change without shipping a new toy:
    `snakemake --cores all results/toy/base/toy && python scripts/ship_toy.py results/toy/base/toy`."""
    config = default_config()
    key = pretraining_key(config["toy"], held_out_ids(config))
    path, made = find_shipped(str(ROOT / config["toy"]["shipped"]), key)
    assert path is not None, f"no toy under {config['toy']['shipped']} was pretrained under {key}"
    assert path.name == "default" and "shipped_from" not in made
    assert made["pretraining"]["steps"] == config["toy"]["steps"]
    assert len(held_out_ids(config)) == 1000  # 500 train + 500 test problems, all held out


def test_the_key_is_the_settings_the_held_out_problems_and_the_code():
    key = pretraining_key(TOY, {"a", "b"})
    assert key == pretraining_key({**TOY, "shipped": None}, ["b", "a"])  # where to look is not part of it
    assert key != pretraining_key({**TOY, "seed": 1}, {"a", "b"})
    assert key != pretraining_key({**TOY, "mix": {"solve": 0.5, "drill": 0.5}}, {"a", "b"})
    assert key != pretraining_key(TOY, {"a"})
    assert key["code"] == code_digest() and "shipped" not in key["toy"]


def test_a_toy_is_found_only_under_its_own_key(tmp_path):
    key = pretraining_key(TOY, {"a"})
    toy = tmp_path / "one"
    toy.mkdir()
    (toy / "model.safetensors").write_bytes(b"weights")
    (toy / "provenance.json").write_text(json.dumps({"pretraining_key": key}))
    assert find_shipped(str(tmp_path), key)[0] == toy
    assert find_shipped(str(tmp_path), pretraining_key(TOY, {"b"})) == (None, {})
    assert find_shipped(str(tmp_path / "missing"), key) == (None, {})
    assert find_shipped(None, key) == (None, {})
    (toy / "model.safetensors").unlink()  # a folder without weights is not a toy
    assert find_shipped(str(tmp_path), key) == (None, {})


def ship(wd: Path, model: str, check=True):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "scripts/ship_toy.py", model, "--folder", "shipped"], cwd=wd,
                          capture_output=True, text=True, check=check)


@pytest.mark.slow
def test_a_study_reuses_a_shipped_toy_only_when_it_would_pretrain_the_same(tiny_run, tmp_path):
    wd, _ = tiny_run
    made = wd / "results/tiny/base/toy"
    ship(wd, "results/tiny/base/toy")
    assert (wd / "shipped/default/model.safetensors").read_bytes() == (made / "model.safetensors").read_bytes()
    same = tmp_path / "same.yaml"
    same.write_text(yaml.safe_dump({"run": "tiny_shipped", "toy": {"shipped": "shipped"}}))
    snakemake("results/tiny_shipped/base/toy", "--cores", "2", "--configfile", TINY, same, cwd=wd)
    copy = wd / "results/tiny_shipped/base/toy"
    prov = json.loads((copy / "provenance.json").read_text())
    assert prov["shipped_from"] == "shipped/default"
    assert (copy / "model.safetensors").read_bytes() == (made / "model.safetensors").read_bytes()
    original = json.loads((made / "provenance.json").read_text())
    assert prov["pretraining"] == original["pretraining"] and prov["pretraining_key"] == original["pretraining_key"]
    assert "reusing the shipped toy" in (wd / "logs/tiny_shipped/base/toy.log").read_text()
    # a copy is not a pretraining, so it cannot be shipped
    refused = ship(wd, "results/tiny_shipped/base/toy", check=False)
    assert refused.returncode != 0 and "copy of the shipped toy" in refused.stderr
    # another toy seed is another pretraining: the study pretrains its own
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"run": "tiny_seed1", "toy": {"shipped": "shipped", "seed": 1}}))
    snakemake("results/tiny_seed1/base/toy", "--cores", "2", "--configfile", TINY, other, cwd=wd)
    own = json.loads((wd / "results/tiny_seed1/base/toy/provenance.json").read_text())
    assert "shipped_from" not in own and own["pretraining_key"]["toy"]["seed"] == 1

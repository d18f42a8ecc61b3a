"""Offline compute nodes (issue #6): hub models fetched once by a localrule into resources/."""

import re
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, copy_workflow, env, job_counts, snakemake

SECRET = "hf_notarealtokenbutsecret123"
MODEL = "some-org/some-model-7b"


def download(tmp_path, **extra_env) -> subprocess.CompletedProcess:
    e = {**env(), "HF_TOKEN": SECRET, "HF_HOME": str(tmp_path / "hf-home"), **extra_env}
    cmd = [sys.executable, str(ROOT / "scripts/download_model.py"), "--params",
           f'{{"model": {{"source": "{MODEL}"}}}}', "--out", str(tmp_path / "resources/models/m")]
    return subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("how", [{"HF_HUB_OFFLINE": "1"},
                                 {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_ETAG_TIMEOUT": "2",
                                  "HF_HUB_DOWNLOAD_TIMEOUT": "2"}], ids=["offline", "unreachable"])
def test_an_unreachable_hub_gives_a_clear_error_and_no_output(tmp_path, how):
    proc = download(tmp_path, **how)
    assert proc.returncode == 1
    assert f"could not download model {MODEL!r}" in proc.stderr
    assert "login node" in proc.stderr and "HF_TOKEN" in proc.stderr  # the fix is named
    assert SECRET not in proc.stderr + proc.stdout
    assert not (tmp_path / "resources/models/m").exists()
    assert not list((tmp_path / "resources/models").glob(".m.tmp-*"))


def hub_study(tmp_path, download=True):
    cfg = {"run": "hub", "iterations": 1, "models": ["hubmodel", "hubmodel2"], "methods": ["maft"],
           "model_definitions": {"hubmodel": {"source": MODEL, "download": download},
                                 "hubmodel2": {"source": "other-org/other-model", "download": download}}}
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_the_plan_downloads_each_model_once_and_every_job_reads_the_copy(tmp_path):
    wd = copy_workflow(tmp_path / "wf")
    cfg = hub_study(tmp_path)
    counts = job_counts(snakemake("-n", "--quiet", "rules", "--configfile", cfg, cwd=wd).stdout)
    assert counts["download_model"] == 2 and "toy_base_model" not in counts
    dag = snakemake("--dag", "--configfile", cfg, cwd=wd).stdout
    names = dict(re.findall(r"^\s*(\d+)\[label = \"(\w+)", dag, re.M))
    edges = re.findall(r"^\s*(\d+) -> (\d+)", dag, re.M)
    downloads = {n for n, rule in names.items() if rule == "download_model"}
    for rule in ("debate", "finetune", "diversity"):
        jobs = {n for n, r in names.items() if r == rule}
        assert jobs and all(any((d, j) in edges for d in downloads) for j in jobs), rule
    # the jobs get the local directory, not the hub id
    shell = snakemake("-n", "-p", "--configfile", cfg, cwd=wd).stdout
    assert "--base resources/models/hubmodel " in shell and f"--base {MODEL}" not in shell


def test_without_download_jobs_read_the_hub_id(tmp_path):
    wd = copy_workflow(tmp_path / "wf")
    counts = job_counts(snakemake("-n", "--quiet", "rules", "--configfile", hub_study(tmp_path, False),
                                  cwd=wd).stdout)
    assert "download_model" not in counts


def test_only_hub_ids_can_be_downloaded():
    from maft.plan import ConfigError, check

    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    cfg["model_definitions"]["toy"]["download"] = True
    with pytest.raises(ConfigError, match="model_definitions.toy.download"):
        check(cfg)

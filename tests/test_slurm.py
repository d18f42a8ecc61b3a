"""The toy study through the SLURM profile on a real SLURM cluster (.ci/slurm-up.sh).

The run uses `--profile profiles/slurm --profile profiles/slurm-ci` (the site profile with sizes
that fit the one-node test cluster) and the placement of every job is read back from SLURM itself
(`squeue --states=all` and `scontrol show job`), not from Snakemake's own account.

Without a cluster (no `sinfo`, or it does not answer) the run is skipped, unless
MAFT_REQUIRE_SLURM=1 (set by .ci/run), where it fails instead.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT, TINY, copy_workflow, job_counts, snakemake

pytestmark = pytest.mark.slurm

PROFILES = ["--profile", "profiles/slurm", "--profile", "profiles/slurm-ci"]
CELL = "results/tiny/toy/arithmetic/maft"
TARGET = f"{CELL}/iter1/scores.json"
DIVERSITY = f"{CELL}/iter1/diversity.json"
# problems -> toy_base_model -> debate (iter0, train) -> select_shard -> finetune -> debate (iter1,
# test) -> score and diversity: every rule kind but STaR's. One agent and one round (so generator
# shards only): 8 jobs.
SMALL = {
    "iterations": 1,
    "debate": {"agents": 1, "rounds": 1},
    "dataset_definitions": {"arithmetic": {"kind": "arithmetic", "answer": "integer", "n_train": 4, "n_test": 4}},
    "sampling": {"max_new_tokens": 8},
    "toy": {"steps": 1, "batch_size": 4, "eval_problems": 1},
    "compute": {"gpus": {"debate": 1, "finetune": 1}},
}
EXPECTED_JOBS = {"problems": 1, "toy_base_model": 1, "debate": 2, "select_shard": 1, "finetune": 1, "score": 1,
                 "diversity": 1}
GPU_RULES = {"debate", "finetune", "diversity"}
CPU_RULES = {"problems", "toy_base_model", "select_shard", "score"}
GPU_PARTITION, CPU_PARTITION, GPU_MODEL = "gpu-h100", "cpu", "h100"  # what .ci/slurm-up.sh creates


def _profile(name: str) -> dict:
    return yaml.safe_load((ROOT / "profiles" / name / "config.yaml").read_text())


def _no_cluster(reason: str):
    if os.environ.get("MAFT_REQUIRE_SLURM") == "1":
        pytest.fail(f"MAFT_REQUIRE_SLURM=1 but {reason}: start the test cluster with `bash .ci/slurm-up.sh` (as root)")
    pytest.skip(f"no SLURM cluster: {reason}")


def _run(*cmd: str, timeout: int = 60) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True).stdout


@pytest.fixture(scope="module")
def cluster() -> dict[str, str]:
    """partition -> availability, from a cluster that answers; else skip (or fail under MAFT_REQUIRE_SLURM=1)."""
    if shutil.which("sinfo") is None:
        _no_cluster("`sinfo` is not on PATH")
    try:
        out = _run("sinfo", "-h", "-o", "%R|%a|%T", timeout=30)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        _no_cluster(f"`sinfo` does not answer ({e}; {getattr(e, 'stderr', '')})")
    rows = [line.split("|") for line in out.split()]
    parts = {p: avail for p, avail, _ in rows}
    for p in (CPU_PARTITION, GPU_PARTITION):
        if parts.get(p) != "up":
            _no_cluster(f"partition {p!r} is missing or not up (sinfo: {out.strip()!r})")
    if not any(state.rstrip("*~#") in ("idle", "mixed", "allocated", "completing") for *_, state in rows):
        _no_cluster(f"no usable node (sinfo: {out.strip()!r})")
    return parts


def _job(jobid: str) -> dict[str, str]:
    """`scontrol -d -o show job <id>` as a dict (one line of key=value tokens)."""
    line = _run("scontrol", "-d", "-o", "show", "job", jobid)
    return dict(tok.split("=", 1) for tok in line.split() if "=" in tok)


def _jobs_in(wd: Path) -> list[dict[str, str]]:
    """Every job SLURM knows (running or finished: MinJobAge) whose working directory is wd."""
    out = _run("squeue", "--states=all", "--noheader", "-o", "%i|%P|%T|%Z|%k")
    jobs = []
    for line in out.splitlines():
        jobid, partition, state, workdir, comment = line.strip().split("|", 4)
        if Path(workdir) == wd:
            jobs.append({"id": jobid, "partition": partition, "state": state, "comment": comment})
    return jobs


def _rule(comment: str) -> str:
    """The plugin's --comment is rule_<rule>_wildcards_<values>."""
    m = re.fullmatch(r"rule_(\w+?)(?:_wildcards_.*)?", comment)
    assert m, f"unexpected job comment {comment!r}"
    return m[1]


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    wd = copy_workflow(tmp_path_factory.mktemp("slurm")).resolve()
    (wd / "small.yaml").write_text(yaml.safe_dump(SMALL))
    try:
        proc = snakemake(TARGET, DIVERSITY, *PROFILES, "--configfile", TINY, "small.yaml", cwd=wd, check=False,
                         timeout=900)
    finally:  # a run that failed or timed out leaves no jobs of its own behind
        for job in _jobs_in(wd):
            if job["state"] in ("PENDING", "RUNNING", "CONFIGURING", "SUSPENDED"):
                subprocess.run(["scancel", job["id"]], check=False)
    jobs = _jobs_in(wd)
    for job in jobs:
        job["rule"] = _rule(job["comment"])
        job["detail"] = _job(job["id"])
    assert proc.returncode == 0, (
        f"snakemake under the SLURM profile failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}\n"
        f"SLURM jobs of this run: {[(j['id'], j['rule'], j['partition'], j['state']) for j in jobs]}"
    )
    return wd, proc, jobs


def test_every_job_went_through_slurm(slurm_run):
    wd, proc, jobs = slurm_run
    log = proc.stdout + proc.stderr
    counts = {}
    for job in jobs:
        counts[job["rule"]] = counts.get(job["rule"], 0) + 1
    assert counts == EXPECTED_JOBS, f"SLURM saw {counts}"
    assert job_counts(log) == {**EXPECTED_JOBS, "total": sum(EXPECTED_JOBS.values())}
    # The SLURM job ids Snakemake reported are exactly the ones SLURM has for this directory.
    submitted = set(re.findall(r"has been submitted with SLURM jobid (\d+)", log))
    assert submitted == {j["id"] for j in jobs}
    assert "localrule" not in log  # nothing ran on the submit host
    for job in jobs:
        d = job["detail"]
        assert job["state"] == d["JobState"] == "COMPLETED", (job["id"], job["rule"], job["state"])
        assert d["ExitCode"] == "0:0", (job["id"], job["rule"], d["ExitCode"])
        assert Path(d["WorkDir"]) == wd
        # the plugin's SLURM log (kept: slurm-keep-successful-logs) names the rule and shows the jobstep
        slurm_log = next((wd / "logs/slurm").glob(f"rule_{job['rule']}/*/{job['id']}.log"))
        assert "--executor slurm-jobstep" in slurm_log.read_text()


def test_gpu_rules_ran_on_the_gpu_partition_with_a_gpu(slurm_run):
    _, _, jobs = slurm_run
    gpu_jobs = [j for j in jobs if j["rule"] in GPU_RULES]
    assert {j["rule"] for j in gpu_jobs} == GPU_RULES
    for job in gpu_jobs:
        d = job["detail"]
        where = (job["id"], job["rule"])
        assert job["partition"] == d["Partition"] == GPU_PARTITION, where
        # requested (--gpus=h100:1) and allocated (JOB_GRES): a GPU of the profile's model
        assert re.fullmatch(rf"gres:gpu:{GPU_MODEL}:1", d.get("TresPerJob", "")), (where, d.get("TresPerJob"))
        assert re.search(rf"\bgpu:{GPU_MODEL}:1\b", d.get("JOB_GRES", "")), (where, d.get("JOB_GRES"))


def test_cpu_rules_ran_on_the_cpu_partition_without_a_gpu(slurm_run):
    _, _, jobs = slurm_run
    cpu_jobs = [j for j in jobs if j["rule"] in CPU_RULES]
    assert {j["rule"] for j in cpu_jobs} == CPU_RULES
    for job in cpu_jobs:
        d = job["detail"]
        where = (job["id"], job["rule"])
        assert job["partition"] == d["Partition"] == CPU_PARTITION, where
        for key in ("TresPerJob", "TresPerNode", "TresPerTask", "CpusPerTres", "JOB_GRES"):
            assert "gpu" not in d.get(key, ""), (where, key, d.get(key))


def test_outputs_are_complete(slurm_run):
    wd, _, _ = slurm_run
    res = wd / "results/tiny"
    for split in ("train", "test"):
        assert len(pd.read_parquet(res / f"data/arithmetic/{split}.parquet")) == 4
    assert (res / "base/toy/config.json").exists()
    for path in (f"{CELL}/iter0/debate-train.parquet", f"{CELL}/iter1/debate-test.parquet"):
        df = pd.read_parquet(wd / path)
        assert len(df) == 4 * 1 * 1  # problems x agents x rounds
    pd.read_parquet(wd / f"{CELL}/iter1/shards/generator-0.parquet")  # readable (may be empty: a 1-step toy)
    agent = wd / f"{CELL}/iter1/agents/generator-0"
    assert (agent / "adapter_config.json").exists() and (agent / "adapter_model.safetensors").exists()
    scores = json.loads((wd / TARGET).read_text())
    assert scores["n"] == 4 and 0.0 <= scores["accuracy"] <= 1.0
    assert json.loads((wd / DIVERSITY).read_text())["problems"] == 4
    assert not list(wd.rglob(".*.tmp-*")), "temporary files left behind"


def test_ci_profile_keeps_the_site_mapping():
    """profiles/slurm-ci replaces default-resources and set-resources wholesale: it must place every
    rule where profiles/slurm does, with the same GPU model, and change nothing but sizes."""
    site, ci = _profile("slurm"), _profile("slurm-ci")
    placement = ("slurm_partition", "gpu_model", "gres", "constraint", "slurm_account")
    for key in placement:
        assert ci["default-resources"].get(key) == site["default-resources"].get(key), key
    assert ci["set-resources"].keys() == site["set-resources"].keys()
    for rule, res in site["set-resources"].items():
        assert {k: v for k, v in ci["set-resources"][rule].items() if k in placement} == {
            k: v for k, v in res.items() if k in placement
        }, rule
    for prof in (site, ci):
        assert "cpus_per_task" not in prof["default-resources"]
        for res in [prof["default-resources"], *prof["set-resources"].values()]:
            assert not re.search(r"--(gres|gpus|partition)|-p\b", str(res.get("slurm_extra", "")))
    assert ci["slurm-status-command"] == "squeue"  # no slurmdbd on the test cluster: sacct cannot work
    assert site["set-resources"]["debate"]["slurm_partition"] == GPU_PARTITION
    assert site["default-resources"]["slurm_partition"] == CPU_PARTITION


def test_every_rule_that_requests_a_gpu_is_placed_on_the_gpu_partition():
    """A rule with a `gpu` resource left on the default (CPU) partition would ask that partition for a
    GPU it does not have, and wait forever: the profile must place every such rule."""
    gpu_rules = set()
    for smk in (ROOT / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=rule )", smk.read_text()):
            m = re.match(r"rule (\w+):", block)
            if m and re.search(r"^\s+gpu=", block, re.M):
                gpu_rules.add(m[1])
    assert {"debate", "finetune", "rationalize", "diversity"} <= gpu_rules, gpu_rules
    for name in ("slurm", "slurm-ci"):
        placed = _profile(name)["set-resources"]
        for rule in gpu_rules:
            assert placed.get(rule, {}).get("slurm_partition") == GPU_PARTITION, (name, rule)
            assert placed[rule].get("gpu_model") == GPU_MODEL, (name, rule)

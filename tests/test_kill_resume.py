"""Kill the whole study with SIGKILL at random moments, resume each time, and check that nothing
partial is ever accepted and that the result equals an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors import safe_open

from conftest import TINY, copy_workflow, env, snakemake

pytestmark = pytest.mark.slow
KILLS = int(os.environ.get("MAFT_KILLS", "20"))
CELL = "results/tiny/toy/arithmetic/maft"


def check_artifacts(wd: Path) -> int:
    """Every artifact at a final path is complete: parquet reads, JSON parses, adapters load."""
    n = 0
    for f in (wd / "results").rglob("*"):
        if f.name.startswith("."):
            continue  # temporary siblings (.name.tmp-PID) are never outputs
        if f.suffix == ".parquet":
            pd.read_parquet(f)
        elif f.suffix == ".json":
            json.loads(f.read_text())
        elif f.suffix == ".safetensors":
            with safe_open(str(f), "pt") as st:
                for k in st.keys():
                    st.get_tensor(k)
        else:
            continue
        n += 1
    return n


def test_random_kills_never_leave_partial_artifacts_and_resume_to_the_same_result(tiny_run, tmp_path):
    ref_wd, _ = tiny_run
    wd = copy_workflow(tmp_path / "killed")
    rng = np.random.default_rng(20261127)
    cmd = [str(Path(sys.executable).parent / "snakemake"), "--cores", "2", "--configfile", TINY,
           "--rerun-incomplete"]
    kills = resumed = 0
    while kills < KILLS:
        proc = subprocess.Popen(cmd, cwd=wd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(float(rng.uniform(1.0, 8.0)))
        if proc.poll() is not None:
            assert proc.returncode == 0, "a resumed run failed"
            break  # finished before the kill: nothing left to interrupt
        os.killpg(proc.pid, signal.SIGKILL)  # the whole process tree: snakemake and its jobs
        proc.wait()
        kills += 1
        check_artifacts(wd)
        snakemake("--unlock", "--configfile", TINY, cwd=wd)
        resumed += 1
    snakemake("--cores", "2", "--configfile", TINY, "--rerun-incomplete", cwd=wd)
    assert check_artifacts(wd) > 0
    assert kills >= min(KILLS, 5), f"only {kills} kills landed before the run finished"
    # the interrupted study ends where the uninterrupted one did
    for i in range(3):
        for name in ("debate-train.parquet", "debate-test.parquet"):
            a, b = wd / CELL / f"iter{i}" / name, ref_wd / CELL / f"iter{i}" / name
            if b.exists():
                pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))
        sa = json.loads((wd / CELL / f"iter{i}/scores.json").read_text())
        sb = json.loads((ref_wd / CELL / f"iter{i}/scores.json").read_text())
        assert {k: v for k, v in sa.items() if k != "provenance"} == {k: v for k, v in sb.items() if k != "provenance"}
    # a killed job's temporary is removed when the job runs again
    assert not list((wd / "results").rglob(".*.tmp-*"))
    print(f"kill/resume: {kills} kills, {resumed} resumed runs, all artifacts complete, final scores equal")

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = "tests/configs/tiny.yaml"
# What a study needs from the checkout (the rest, e.g. .venv and results/, stays behind).
WORKFLOW_PARTS = ["Snakefile", "rules", "scripts", "config", "report", "profiles", "envs", "src", "tests/configs"]


def env() -> dict:
    """Environment for snakemake subprocesses: this interpreter's bin first, so rules find `python`."""
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e.get('PATH', '')}"
    e["PYTHONUNBUFFERED"] = "1"
    return e


def snakemake(*args, cwd=ROOT, check=True, timeout=1800) -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).parent / "snakemake"), *map(str, args)]
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a (dry) run: rule -> count."""
    counts = {}
    block = output.split("Job stats:", 1)[-1]
    for line in block.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)\s*$", line.strip())
        if m:
            counts[m[1]] = int(m[2])
        elif counts and line.strip() == "":
            break
    return counts


def copy_workflow(dest: Path) -> Path:
    for part in WORKFLOW_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / part)
    return dest


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny study, run once to completion in a copy of the workflow (shared by the e2e tests)."""
    wd = copy_workflow(tmp_path_factory.mktemp("tiny"))
    proc = snakemake("--cores", "2", "--configfile", TINY, cwd=wd)
    return wd, proc

"""Issue #5: a long finetune killed after a checkpoint resumes from it and ends where an
uninterrupted run ends, and the kill leaves nothing at the output path for Snakemake to accept."""

import os
import signal
import subprocess
import time

import pytest
import torch
from safetensors.torch import load_file

from conftest import env
from toyfactory import finetune_cfg, finetune_command, run_finetune, toy_base, toy_shard

pytestmark = pytest.mark.slow
ADAPTER = "adapter_model.safetensors"


def wait_for_complete_checkpoint(proc: subprocess.Popen, scratch, timeout: float = 600) -> str:
    """Poll until the trainer has finished writing a checkpoint (trainer_state.json comes last)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done = sorted(scratch.glob("checkpoint-*/trainer_state.json"))
        if done:
            return done[0].parent.name
        if proc.poll() is not None:
            pytest.fail(f"the finetune ended (rc {proc.returncode}) before any checkpoint was written")
        time.sleep(0.01)
    pytest.fail("no checkpoint appeared")


def test_killed_finetune_resumes_from_its_checkpoint_to_the_same_weights(tmp_path):
    base = toy_base(tmp_path / "base")
    shard = toy_shard(tmp_path / "shard.parquet", 96)
    cfg = finetune_cfg(checkpoint_steps=8)  # 96 examples / batch 2 x 2 epochs = 96 steps

    run_finetune(shard, base, tmp_path / "reference", cfg, tmp_path / "scratch-ref")

    out, scratch = tmp_path / "agent", tmp_path / "scratch"
    proc = subprocess.Popen(finetune_command(shard, base, out, cfg, scratch), env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    ckpt = wait_for_complete_checkpoint(proc, scratch)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before the kill: make it longer"
    # nothing at the declared output (only a hidden temporary sibling, which is never an output)
    assert not out.exists()
    assert all(p.name.startswith(".") for p in out.parent.iterdir() if p.name.startswith(out.name) or
               p.name.startswith(f".{out.name}"))

    resumed = run_finetune(shard, base, out, cfg, scratch)
    assert "resuming from checkpoint" in resumed.stderr
    step = int(resumed.stderr.split("resuming from checkpoint")[1].split("checkpoint-")[1].split()[0])
    assert step >= int(ckpt.split("-")[1]) and step < 96
    assert not scratch.exists(), "trainer state must be removed after success"

    # Equal, not merely close: on CPU with one thread the same ops run in the same order, and the
    # checkpoint restores weights, optimizer, scheduler, RNG and the data order exactly.
    got, want = load_file(out / ADAPTER), load_file(tmp_path / "reference" / ADAPTER)
    assert got.keys() == want.keys()
    for k in want:
        assert torch.equal(got[k], want[k]), k


def test_a_stale_checkpoint_of_another_job_is_not_resumed(tmp_path):
    base = toy_base(tmp_path / "base")
    scratch = tmp_path / "scratch"
    (scratch / "checkpoint-4").mkdir(parents=True)
    (scratch / "checkpoint-4" / "trainer_state.json").write_text("{}")
    (scratch / "job.json").write_text("another job")
    shard = toy_shard(tmp_path / "shard.parquet", 8)
    proc = run_finetune(shard, base, tmp_path / "agent", finetune_cfg(checkpoint_steps=2, epochs=1), scratch)
    assert "resuming from checkpoint" not in proc.stderr
    assert (tmp_path / "agent" / ADAPTER).exists() and not scratch.exists()


def test_a_partial_checkpoint_is_skipped(tmp_path):
    from maft.finetune import resume_point

    scratch = tmp_path / "scratch"
    for step, complete in ((4, True), (8, False)):
        (scratch / f"checkpoint-{step}").mkdir(parents=True)
        if complete:
            (scratch / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    (scratch / "job.json").write_text("J")
    assert resume_point(scratch, "J") == str(scratch / "checkpoint-4")
    assert not (scratch / "checkpoint-8").exists()

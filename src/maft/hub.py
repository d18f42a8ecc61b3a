"""Download a hub model once into resources/ so that offline compute nodes read a local copy.

Compute nodes of many clusters cannot reach the Hugging Face hub; the download runs as a Snakemake
`localrule` on the login node instead. The token comes from the environment (HF_TOKEN) and is
passed to huggingface_hub only: it is never logged nor written to the copy.
"""

from __future__ import annotations

import logging
import os

from maft.artifacts import atomic_path

log = logging.getLogger(__name__)
# Llama repositories also ship the original consolidated checkpoint: a second copy of the weights
# that transformers never reads.
SKIP = ["original/*"]


class ModelDownloadError(RuntimeError):
    """The hub could not be reached (or refused the model); the message says what to do."""


def download_message(repo_id: str, out_dir: str, reason: str) -> str:
    return (
        f"could not download model {repo_id!r} from the Hugging Face hub ({reason}).\n"
        f"Run this step where the hub is reachable (it is a localrule: on a cluster, start snakemake on "
        f"the login node), or copy the model to {out_dir} yourself, or set the model's `source` to a local "
        f"directory. For gated models (e.g. meta-llama/*) accept the licence on the hub and export HF_TOKEN."
    )


def download_model(repo_id: str, out_dir: str, revision: str | None = None) -> str:
    """snapshot_download into a temporary sibling, renamed onto out_dir only when complete."""
    from huggingface_hub import snapshot_download

    token = os.environ.get("HF_TOKEN") or None
    log.info("downloading %s into %s (token from HF_TOKEN: %s)", repo_id, out_dir, "yes" if token else "no")
    with atomic_path(out_dir) as tmp:
        try:
            snapshot_download(repo_id, revision=revision, local_dir=tmp, token=token, ignore_patterns=SKIP)
        except Exception as err:  # offline, DNS, HTTP 401/403/404, gated: all end in the same advice
            raise ModelDownloadError(download_message(repo_id, out_dir, _reason(err, token))) from None
    return out_dir


def _reason(err: Exception, token: str | None) -> str:
    """A one-line cause; the token is scrubbed in case a library echoed a header."""
    text = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return text.replace(token, "***") if token else text

"""Finetune one agent (one role of one agent at one iteration) on its shard."""

import subprocess
import sys

from maft import cli
from maft.artifacts import provenance
from maft.finetune import finetune, launch_command, launch_processes

p = cli.parser(__doc__)
p.add_argument("--shard", required=True)
p.add_argument("--base", required=True)
p.add_argument("--init", default=None, help="previous-iteration agent to continue from (adapter or full model)")
p.add_argument("--scratch", default=None, help="trainer state for resumption, outside declared outputs")
p.add_argument("--gpus", type=int, default=1, help="GPUs of the job (full finetuning spans them with DeepSpeed)")
p.add_argument("--out", required=True)
args = p.parse_args()
cli.setup(args)
P = args.params
import torch  # noqa: E402

processes = launch_processes(P["finetune"], args.gpus, torch.cuda.device_count())
if processes:  # full finetuning on GPUs: one process per GPU under torchrun, joined by DeepSpeed ZeRO-3
    sys.exit(subprocess.call(launch_command(__file__, sys.argv[1:], processes)))
finetune(args.shard, args.base, args.out, P["finetune"], P["seed"], args.init, args.scratch,
         P["model"]["trust_remote_code"], P["model"]["chat_template"], provenance(P))

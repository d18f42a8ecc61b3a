# Config -> study plan, wildcard constraints and input functions. Logic is in src/maft/plan.py.
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from maft import plan  # noqa: E402
from maft.toy.shipped import shipped_toys  # noqa: E402

plan.check(config)

RES = f"results/{config['run']}"
LOGS = f"logs/{config['run']}"
BENCH = f"benchmarks/{config['run']}"
MODELS = "resources/models"  # hub models downloaded once (download: true), shared by every run
CELL = "{model}/{dataset}/{method}/iter{iter}"  # one method's agents after `iter` finetunings
ENV = "../envs/maft-cpu.yaml"
# GPU rules (debate, finetune) use the CUDA environment when the study asks for it.
GPU_ENV = "../envs/maft-cuda.yaml" if config.get("compute", {}).get("cuda_env", False) else ENV


wildcard_constraints:
    model="|".join(config["models"]),
    dataset="|".join(plan.all_datasets(config)),
    method="|".join(plan.study_methods(config)),
    iter=r"\d+",
    split="train|test",
    role="generator|critic",
    agent=r"\d+",


def model_def(w):
    return config["model_definitions"][w.model]


def is_toy(w):
    return model_def(w)["source"] == "toy"


def is_downloaded(w):
    """Hub models that opt in are fetched once into resources/ by the download_model localrule."""
    return model_def(w).get("download", False)


def base_model_input(w):
    """The directory the pipeline makes (toy, or a downloaded copy); nothing for hub ids/local paths."""
    if is_toy(w):
        return [f"{RES}/base/{w.model}"]
    return [f"{MODELS}/{w.model}"] if is_downloaded(w) else []


def base_model_path(w):
    return base_model_input(w)[0] if base_model_input(w) else model_def(w)["source"]


def toy_held_out(w):
    """The toy never sees the study's arithmetic problems during pretraining."""
    names = [d for d in plan.all_datasets(config) if config["dataset_definitions"][d]["kind"] == "arithmetic"]
    return [f"{RES}/data/{d}/{s}.parquet" for d in names for s in ("train", "test")]


def shipped_toy_files(w):
    """The shipped toys the job may reuse (maft.toy.shipped): replacing one re-runs the study's toy."""
    return [str(d / f) for d in shipped_toys(config["toy"].get("shipped")) for f in ("model.safetensors", "provenance.json")]


def prefix(w):
    return f"{RES}/{w.model}/{w.dataset}"


def seats(w):
    """(generators, critics): per agent an adapter directory or 'base'.

    Agents come from the dataset they were trained on: another one for a zero-shot transfer."""
    source = f"{RES}/{w.model}/{plan.training_dataset(config, w.dataset)}"
    gens, crits = plan.agent_dirs(config, w.method, source, int(w.iter))
    return [g or "base" for g in gens], [c or "base" for c in crits]


def agent_inputs(w):
    gens, crits = seats(w)
    return sorted({d for d in gens + crits if d != "base"})


def job_params(wc, **extra):
    """The parameters a job depends on, as JSON: a change reruns exactly the jobs it affects."""
    out = {"seed": config["seed"], "answer": config["dataset_definitions"][wc.dataset].get("answer", "integer")}
    out.update(extra)
    return json.dumps(out, sort_keys=True)


def debate_params(w, split=None):
    return job_params(
        w, iteration=int(w.iter), split=split or w.split, model=model_def(w), sampling=config["sampling"],
        generation=config["generation"], debate={"max_others": config["debate"]["max_others"]},
        method=plan.debate_settings(config, w.method))


def shared_debate_source(w, split, name=None):
    """The transcript that this method's equals at its iteration (plan.base_debate_source at 0,
    plan.trained_debate_source after), or the file `name` computed from it."""
    i = int(getattr(w, "iter", 0))
    source = plan.trained_debate_source(config, w.method) if i else plan.base_debate_source(config, w.method, split)
    return f"{prefix(w)}/{source}/iter{i}/{name or f'debate-{split}.parquet'}"


def shared_agent_source(w, role):
    """The iteration-1 agent of an earlier method that this method would train identically (plan.shared_agents)."""
    return f"{prefix(w)}/{plan.shared_agents(config)[(w.method, role)]}/iter1/agents/{role}-{w.agent}"


def debate_slice(w):
    """share_artifact.py's arguments that cut a copied debate to this method's rounds and agents."""
    m = plan.method(config, w.method)
    return f"--rounds {m.rounds} --agents {m.agents}"


def star_rationales(w):
    """STaR's shards also need the rationalisations of the previous iteration's wrong answers."""
    if plan.method(config, w.method).train != "star":
        return []
    return [f"{prefix(w)}/{w.method}/iter{int(w.iter) - 1}/rationales-train.parquet"]


def selection_params(w):
    m = plan.method(config, w.method)
    return job_params(w, train=m.train, roles=m.roles, agent_ids=m.agent_ids,
                      tie_break=config["debate"]["tie_break"], **config["selection"])


def finetune_params(w):
    return job_params(w, model=model_def(w), finetune=config["finetune"], role=w.role, agent=int(w.agent))


def chain_priority(stage):
    """`priority:` of a rule's jobs: the length of the method's chain still ahead (plan.chain_priority)."""
    def priority(w):
        name = f"debate-{w.split}" if stage == "debate" else stage
        return plan.chain_priority(config, w.method, int(w.iter), name)

    return priority


def previous_agent(w):
    """Agent n's weights after iteration i-1: where iteration i's finetune starts (PyPSA-style recurrence)."""
    i = int(w.iter)
    if i <= 1 or config["finetune"]["restart_from_base"]:
        return []
    return [f"{prefix(w)}/{w.method}/iter{i - 1}/agents/{w.role}-{w.agent}"]


def final_round_seats(w):
    """The weights that wrote each agent's final-round answer (critics, or generators for 1 round)."""
    gens, crits = seats(w)
    return crits if plan.method(config, w.method).rounds > 1 else gens


def diversity_params(w):
    return job_params(w, tie_break=config["debate"]["tie_break"], diversity=config["diversity"],
                      model=model_def(w), generation={"device": config["generation"]["device"]})


def score_params(w):
    return job_params(w, tie_break=config["debate"]["tie_break"])


def all_scores(name="scores.json"):
    return [
        f"{RES}/{mo}/{d}/{me}/iter{i}/{name}"
        for mo in config["models"]
        for d in config["datasets"]
        for me in config["methods"]
        for i in plan.iterations(config, me)
    ]


def all_shards():
    """Every shard the study selects (plan.shard_files), for the report's finetuning-data table."""
    trained = dict.fromkeys(plan.training_dataset(config, d) for d in config["datasets"])
    return [f for mo in config["models"] for d in trained for me in plan.owners(config)
            for f in plan.shard_files(config, me, f"{RES}/{mo}/{d}")]


def all_diversity():
    return all_scores("diversity.json") if config["diversity"]["enabled"] else []


def study_choices():
    """The open choices of the paper that this study fixed, for the report to name."""
    methods = {m: plan.method(config, m) for m in config["methods"]}
    return {
        "config_digest": plan.config_digest(config),
        "critic_mix": config["selection"]["critic_mix"],
        "w": config["selection"]["w"] if config["selection"]["critic_mix"] == "weight" else "official (~2/3)",
        "tie_break": config["debate"]["tie_break"],
        "summarizer": config["debate"]["summarizer"],
        "restart_from_base": config["finetune"]["restart_from_base"],
        "sampling": config["sampling"],
        "agents": config["debate"]["agents"],
        "rounds": config["debate"]["rounds"],
        "iterations": config["iterations"],
        # methods that run another number of iterations than the study's (method_definitions.*.iterations)
        "method_iterations": {m: x.iterations for m, x in methods.items()
                              if x.train != "none" and x.iterations != config["iterations"]},
        "method_sampling": {m: x.sampling for m, x in methods.items() if x.sampling},
        # iteration 0 is the base model's debate: these methods copy an identical one (same seeds)
        "shared_base_debates": {s: plan.shared_base_debates(config, s) for s in ("train", "test")},
        # later iterations: methods that evaluate the same agents copy (a slice of) the same debate
        "shared_trained_debates": plan.shared_trained_debates(config),
        # iteration-1 agents trained on the same shard as an earlier method's: copied ("method role": source)
        "shared_agents": {f"{m} {r}": s for (m, r), s in plan.shared_agents(config).items()},
        "finetune": {k: config["finetune"][k] for k in ("method", "lora_r", "lr", "epochs", "batch_size")},
        "gpus": config.get("compute", {}).get("gpus", {}),
        # the embedded toy's teacher decides what its debates can show (benchmarks/RESULTS.md "The toy")
        **({"toy_teacher": {k: config["toy"].get(k) for k in ("steps", "noise", "noise_step", "critic_noise", "critic", "subtraction")}}
           if any(config["model_definitions"][m]["source"] == "toy" for m in config["models"]) else {}),
    }


def report_files():
    pooled = [f"{RES}/pooled/report.md"] if config.get("pool_with") else []
    return [f"{RES}/report/{name}" for name in ("scores.csv", "scores.md", "report.md", "cost.csv", "accuracy.png", "training_data.csv")] + pooled

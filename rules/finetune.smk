rule finetune:
    input:
        shard=f"{RES}/{CELL}/shards/{{role}}-{{agent}}.parquet",
        base=base_model_input,
        init=previous_agent,
    output:
        directory(f"{RES}/{CELL}/agents/{{role}}-{{agent}}"),
    params:
        job=finetune_params,
        base=base_model_path,
        init=lambda w, input: f"--init {input.init}" if input.init else "",
        scratch=f"scratch/{config['run']}/{CELL}/{{role}}-{{agent}}",
    threads: 1
    priority: chain_priority("finetune")
    resources:
        gpu=config.get("compute", {}).get("gpus", {}).get("finetune", 1),
        mem_mb=8000,
        runtime=240,
    log:
        f"{LOGS}/{CELL}/agents/{{role}}-{{agent}}.log",
    benchmark:
        f"{BENCH}/{CELL}/agents/{{role}}-{{agent}}.tsv"
    conda:
        GPU_ENV
    shell:
        "python scripts/finetune.py --params {params.job:q} --threads {threads} --shard {input.shard} "
        "--base {params.base:q} {params.init} --scratch {params.scratch} --gpus {resources.gpu} --out {output} 2> {log}"


# A per-agent method whose iteration-1 shard of a role is an earlier method's (same base train debate
# and agents: plan.shared_agents) trains the same agent: it copies that one (maft w/o critic's
# generators are maft's). One rule per role, so that each matches exactly the methods sharing it.
ruleorder: share_agents_generator > finetune
ruleorder: share_agents_critic > finetune


localrules:
    share_agents_generator,
    share_agents_critic,


for _role in ("generator", "critic"):

    rule:
        name:
            f"share_agents_{_role}"
        input:
            lambda w, role=_role: f"{prefix(w)}/{plan.shared_agents(config)[(w.method, role)]}/iter1/agents/{role}-{w.agent}",
        output:
            directory(f"{RES}/{{model}}/{{dataset}}/{{method}}/iter1/agents/{_role}-{{agent}}"),
        wildcard_constraints:
            method="|".join(m for m, r in plan.shared_agents(config) if r == _role) or "(?!)",
        log:
            f"{LOGS}/{{model}}/{{dataset}}/{{method}}/iter1/agents/{_role}-{{agent}}.log",
        benchmark:
            f"{BENCH}/{{model}}/{{dataset}}/{{method}}/iter1/agents/{_role}-{{agent}}.shared.tsv"
        conda:
            ENV
        shell:
            "python scripts/share_artifact.py --source {input} --out {output} 2> {log}"

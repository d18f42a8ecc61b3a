rule diversity:
    input:
        transcript=f"{RES}/{CELL}/debate-test.parquet",
        base=base_model_input,
        agents=agent_inputs,
    output:
        f"{RES}/{CELL}/diversity.json",
    params:
        job=diversity_params,
        base=base_model_path,
        agents=lambda w: final_round_seats(w),
    threads: 1
    resources:
        gpu=config.get("compute", {}).get("gpus", {}).get("debate", 1),
        mem_mb=8000,
        runtime=60,
    log:
        f"{LOGS}/{CELL}/diversity.log",
    benchmark:
        f"{BENCH}/{CELL}/diversity.tsv"
    conda:
        GPU_ENV
    shell:
        "python scripts/diversity.py --params {params.job:q} --threads {threads} --transcript {input.transcript} "
        "--base {params.base:q} --agents {params.agents:q} --out {output} 2> {log}"


# A wholly copied iteration-0 test debate (rules/debate.smk) has the same agents (the base model) and
# seeds as its source, so its diversity figures are the source's: copied, not computed again.
ruleorder: share_base_diversity > diversity
ruleorder: share_trained_diversity > diversity


localrules:
    share_base_diversity,
    share_trained_diversity,


rule share_base_diversity:
    input:
        lambda w: shared_debate_source(w, "test", "diversity.json"),
    output:
        f"{RES}/{{model}}/{{dataset}}/{{method}}/iter0/diversity.json",
    wildcard_constraints:
        method="|".join(plan.shared_base_diversity(config)) or "(?!)",
    log:
        f"{LOGS}/{{model}}/{{dataset}}/{{method}}/iter0/diversity.log",
    benchmark:
        f"{BENCH}/{{model}}/{{dataset}}/{{method}}/iter0/diversity.shared.tsv"
    conda:
        ENV
    shell:
        "python scripts/share_artifact.py --source {input} --out {output} 2> {log}"


# The same after iteration 0, for a whole copy of the test debate of another method with the same agents.
rule share_trained_diversity:
    input:
        lambda w: shared_debate_source(w, "test", "diversity.json"),
    output:
        f"{RES}/{CELL}/diversity.json",
    wildcard_constraints:
        method="|".join(plan.shared_trained_diversity(config)) or "(?!)",
        iter=r"[1-9]\d*",
    log:
        f"{LOGS}/{CELL}/diversity.log",
    benchmark:
        f"{BENCH}/{CELL}/diversity.shared.tsv"
    conda:
        ENV
    shell:
        "python scripts/share_artifact.py --source {input} --out {output} 2> {log}"

rule debate:
    input:
        problems=f"{RES}/data/{{dataset}}/{{split}}.parquet",
        base=base_model_input,
        agents=agent_inputs,
    output:
        f"{RES}/{CELL}/debate-{{split}}.parquet",
    params:
        job=debate_params,
        base=base_model_path,
        generators=lambda w: seats(w)[0],
        critics=lambda w: seats(w)[1],
    # One thread: on CPU a second thread speeds a toy debate by ~25%, a second debate job by ~100%.
    threads: 1
    priority: chain_priority("debate")
    resources:
        gpu=config.get("compute", {}).get("gpus", {}).get("debate", 1),
        mem_mb=8000,
        runtime=120,
    log:
        f"{LOGS}/{CELL}/debate-{{split}}.log",
    benchmark:
        f"{BENCH}/{CELL}/debate-{{split}}.tsv"
    conda:
        GPU_ENV
    shell:
        "python scripts/debate.py --params {params.job:q} --threads {threads} --problems {input.problems} "
        "--base {params.base:q} --generators {params.generators:q} --critics {params.critics:q} "
        "--out {output} 2> {log}"


# Iteration 0 is the base model's debate. A method whose debate settings equal an earlier method's
# (plan.base_debate_source) would write the same transcript, seeds included: it copies that one; a
# one-round method copies round 0 of a wider debate (the rows its own rounds and agents cover).
ruleorder: share_base_debate_test > debate
ruleorder: share_base_debate_train > debate


# After it, methods that evaluate the same method's agents seat the same weights: single-agent FT w/o
# debate's test debate is round 0 of agent 0 of single-agent FT's (plan.trained_debate_source).
ruleorder: share_trained_debate_test > debate


localrules:
    share_base_debate_test,
    share_base_debate_train,
    share_trained_debate_test,


for _split in ("test", "train"):

    rule:
        name:
            f"share_base_debate_{_split}"
        input:
            lambda w, split=_split: shared_debate_source(w, split),
        output:
            f"{RES}/{{model}}/{{dataset}}/{{method}}/iter0/debate-{_split}.parquet",
        wildcard_constraints:
            method="|".join(plan.shared_base_debates(config, _split)) or "(?!)",
        params:
            rounds=lambda w: plan.method(config, w.method).rounds,
            agents=lambda w: plan.method(config, w.method).agents,
        # a copied train debate starts its method's chain as a computed one would (single-agent FT's
        # waited 8 minutes behind priority-0 jobs when it had none)
        priority: lambda w, split=_split: plan.chain_priority(config, w.method, 0, f"debate-{split}")
        log:
            f"{LOGS}/{{model}}/{{dataset}}/{{method}}/iter0/debate-{_split}.log",
        benchmark:
            f"{BENCH}/{{model}}/{{dataset}}/{{method}}/iter0/debate-{_split}.shared.tsv"
        conda:
            ENV
        shell:
            "python scripts/share_artifact.py --source {input} --out {output} "
            "--rounds {params.rounds} --agents {params.agents} 2> {log}"


rule share_trained_debate_test:
    input:
        lambda w: shared_debate_source(w, "test"),
    output:
        f"{RES}/{CELL}/debate-test.parquet",
    wildcard_constraints:
        method="|".join(plan.shared_trained_debates(config)) or "(?!)",
        iter=r"[1-9]\d*",
    params:
        rounds=lambda w: plan.method(config, w.method).rounds,
        agents=lambda w: plan.method(config, w.method).agents,
    log:
        f"{LOGS}/{CELL}/debate-test.log",
    benchmark:
        f"{BENCH}/{CELL}/debate-test.shared.tsv"
    conda:
        ENV
    shell:
        "python scripts/share_artifact.py --source {input} --out {output} "
        "--rounds {params.rounds} --agents {params.agents} 2> {log}"


rule rationalize:
    # STaR only: the wrongly answered train problems, asked again with the gold answer as a hint.
    input:
        transcript=f"{RES}/{CELL}/debate-train.parquet",
        base=base_model_input,
        agents=agent_inputs,
    output:
        f"{RES}/{CELL}/rationales-train.parquet",
    params:
        job=lambda w: debate_params(w, split="train"),
        base=base_model_path,
        generator=lambda w: seats(w)[0][0],
    # One thread, as a debate: a 2-thread job waits until both cores are free at once, which in the
    # whole study happened only after every other job had finished.
    threads: 1
    priority: chain_priority("rationalize")
    resources:
        gpu=config.get("compute", {}).get("gpus", {}).get("debate", 1),
        mem_mb=8000,
        runtime=120,
    log:
        f"{LOGS}/{CELL}/rationales-train.log",
    benchmark:
        f"{BENCH}/{CELL}/rationales-train.tsv"
    conda:
        GPU_ENV
    shell:
        "python scripts/rationalize.py --params {params.job:q} --threads {threads} --transcript {input.transcript} "
        "--base {params.base:q} --generator {params.generator:q} --out {output} 2> {log}"

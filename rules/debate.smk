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

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
    threads: 2
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

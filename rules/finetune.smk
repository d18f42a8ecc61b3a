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

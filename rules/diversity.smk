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

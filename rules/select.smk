rule select_shard:
    # Shards of iteration i come from the train debate of the agents after iteration i-1.
    input:
        transcript=lambda w: f"{prefix(w)}/{w.method}/iter{int(w.iter) - 1}/debate-train.parquet",
        rationales=star_rationales,
    output:
        f"{RES}/{CELL}/shards/{{role}}-{{agent}}.parquet",
    params:
        job=selection_params,
    priority: chain_priority("select")
    log:
        f"{LOGS}/{CELL}/shards/{{role}}-{{agent}}.log",
    benchmark:
        f"{BENCH}/{CELL}/shards/{{role}}-{{agent}}.tsv"
    conda:
        ENV
    shell:
        "python scripts/select_shards.py --params {params.job:q} --transcript {input.transcript} "
        "--rationales {input.rationales} --outputs {output} 2> {log}"

rule select_shard:
    # Shards of iteration i come from the train debate of the agents after iteration i-1.
    input:
        lambda w: f"{prefix(w)}/{w.method}/iter{int(w.iter) - 1}/debate-train.parquet",
    output:
        f"{RES}/{CELL}/shards/{{role}}-{{agent}}.parquet",
    params:
        job=selection_params,
    log:
        f"{LOGS}/{CELL}/shards/{{role}}-{{agent}}.log",
    conda:
        ENV
    shell:
        "python scripts/select_shards.py --params {params.job:q} --transcript {input} --outputs {output} 2> {log}"

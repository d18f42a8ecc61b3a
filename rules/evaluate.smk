rule score:
    input:
        f"{RES}/{CELL}/debate-test.parquet",
    output:
        f"{RES}/{CELL}/scores.json",
    params:
        job=score_params,
    log:
        f"{LOGS}/{CELL}/scores.log",
    benchmark:
        f"{BENCH}/{CELL}/scores.tsv"
    conda:
        ENV
    shell:
        "python scripts/score.py --params {params.job:q} --transcript {input} --out {output} 2> {log}"

rule problems:
    output:
        train=f"{RES}/data/{{dataset}}/train.parquet",
        test=f"{RES}/data/{{dataset}}/test.parquet",
    params:
        job=lambda w: json.dumps({"seed": config["seed"], "dataset": config["dataset_definitions"][w.dataset]}),
    log:
        f"{LOGS}/data/{{dataset}}.log",
    conda:
        ENV
    shell:
        "python scripts/make_problems.py --params {params.job:q} --train {output.train} --test {output.test} 2> {log}"

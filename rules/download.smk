# Hub models with `download: true` are fetched once, on the machine that runs snakemake (the login
# node of a cluster), into resources/models/<model>; every job then reads that local copy.
localrules:
    download_model,


rule download_model:
    output:
        directory(f"{MODELS}/{{model}}"),
    params:
        job=lambda w: json.dumps({"model": {"source": model_def(w)["source"]}}),
    log:
        "logs/download/{model}.log",
    conda:
        ENV
    shell:
        "python scripts/download_model.py --params {params.job:q} --out {output} 2> {log}"

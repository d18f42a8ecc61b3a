rule toy_base_model:
    input:
        held_out=toy_held_out,
        shipped=shipped_toy_files,
    output:
        directory(f"{RES}/base/{{model}}"),
    params:
        job=lambda w: json.dumps({"toy": config["toy"]}),
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        f"{LOGS}/base/{{model}}.log",
    benchmark:
        f"{BENCH}/base/{{model}}.tsv"
    conda:
        ENV
    shell:
        "python scripts/pretrain_toy.py --params {params.job:q} --threads {threads} "
        "--exclude {input.held_out} --out {output} 2> {log}"

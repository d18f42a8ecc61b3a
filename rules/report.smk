# The study's report: tables, figures, the paper's claims checked, time per stage. Each table and figure is
# also registered for `snakemake --report report.html` (captions in report/*.rst).
rule report:
    input:
        scores=all_scores(),
        diversity=all_diversity(),
        base_models=[f"{RES}/base/{m}" for m in config["models"] if config["model_definitions"][m]["source"] == "toy"],
        shards=all_shards(),
    output:
        csv=report(f"{RES}/report/scores.csv", caption="../report/scores.rst", category="Tables"),
        md=f"{RES}/report/scores.md",
        report_md=f"{RES}/report/report.md",
        cost=report(f"{RES}/report/cost.csv", caption="../report/cost.rst", category="Cost"),
        plot=report(f"{RES}/report/accuracy.png", caption="../report/accuracy.rst", category="Accuracy"),
        table1_csv=report(f"{RES}/report/table1.csv", caption="../report/table1.rst", category="Tables"),
        table1_md=f"{RES}/report/table1.md",
        table2_csv=report(f"{RES}/report/table2.csv", caption="../report/table2.rst", category="Tables"),
        table2_md=f"{RES}/report/table2.md",
        claims=report(f"{RES}/report/claims.csv", caption="../report/claims.rst", category="Claims"),
        training_data=report(f"{RES}/report/training_data.csv", caption="../report/training_data.rst", category="Tables"),
        stage_times=report(f"{RES}/report/stage_times.csv", caption="../report/stage_times.rst", category="Cost"),
        fig_iterations=report(
            f"{RES}/report/fig1_iterations.png", caption="../report/fig1_iterations.rst", category="Accuracy"
        ),
        fig_diversity=report(f"{RES}/report/diversity.png", caption="../report/diversity.rst", category="Diversity"),
        fig_dissimilarity=report(
            f"{RES}/report/dissimilarity_accuracy.png",
            caption="../report/dissimilarity_accuracy.rst",
            category="Diversity",
        ),
    params:
        choices=lambda w: json.dumps(study_choices(), sort_keys=True),
        benchmarks=lambda w: BENCH,
    log:
        f"{LOGS}/report.log",
    conda:
        ENV
    shell:
        "python scripts/report.py --scores {input.scores} --diversity {input.diversity} --csv {output.csv} "
        "--md {output.md} --plot {output.plot} --report {output.report_md} --choices {params.choices:q} "
        "--benchmarks {params.benchmarks} --cost {output.cost} --base-models {input.base_models} "
        "--shards {input.shards} --training-data {output.training_data} "
        "--table1-csv {output.table1_csv} --table1-md {output.table1_md} "
        "--table2-csv {output.table2_csv} --table2-md {output.table2_md} --claims {output.claims} "
        "--stage-times {output.stage_times} --fig-iterations {output.fig_iterations} "
        "--fig-diversity {output.fig_diversity} --fig-dissimilarity {output.fig_dissimilarity} 2> {log}"


# Other seeds of the same design, finished (pool_with): their reports and this one's pooled. A run that
# has not been made is a missing input here; run it with its own configfile first.
rule pool_runs:
    input:
        [f"results/{r}/report/scores.csv" for r in [config["run"], *config.get("pool_with", [])]],
    output:
        report_md=f"{RES}/pooled/report.md",
        csv=report(f"{RES}/pooled/scores.csv", caption="../report/pooled.rst", category="Seeds pooled"),
        claims=report(f"{RES}/pooled/claims.csv", caption="../report/pooled_claims.rst", category="Seeds pooled"),
    params:
        runs=lambda w, input: [str(Path(f).parent.parent) for f in input],
        out=lambda w, output: str(Path(output.report_md).parent),
    log:
        f"{LOGS}/pooled.log",
    conda:
        ENV
    shell:
        "python scripts/pool_runs.py {params.runs} --out {params.out} 2> {log}"

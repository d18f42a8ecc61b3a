rule report:
    input:
        scores=all_scores(),
        diversity=all_diversity(),
    output:
        csv=f"{RES}/report/scores.csv",
        md=f"{RES}/report/scores.md",
        report_md=f"{RES}/report/report.md",
        cost=f"{RES}/report/cost.csv",
        plot=report(f"{RES}/report/accuracy.png", caption="../report/accuracy.rst", category="Accuracy"),
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
        "--benchmarks {params.benchmarks} --cost {output.cost} 2> {log}"

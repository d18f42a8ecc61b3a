rule report:
    input:
        all_scores(),
    output:
        csv=f"{RES}/report/scores.csv",
        md=f"{RES}/report/scores.md",
        plot=report(f"{RES}/report/accuracy.png", caption="../report/accuracy.rst", category="Accuracy"),
    log:
        f"{LOGS}/report.log",
    conda:
        ENV
    shell:
        "python scripts/report.py --scores {input} --csv {output.csv} "
        "--md {output.md} --plot {output.plot} 2> {log}"

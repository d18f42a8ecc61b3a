# maft: multiagent finetuning (Subramaniam et al., ICLR 2025) as a Snakemake pipeline.
# Layout and artifact graph: README.md and ../shared/DESIGN.md. Logic lives in src/maft/.
from snakemake.utils import min_version, validate

min_version("9.19")


configfile: "config/config.yaml"


validate(config, "config/config.schema.yaml")


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/base_model.smk"
include: "rules/download.smk"
include: "rules/debate.smk"
include: "rules/select.smk"
include: "rules/finetune.smk"
include: "rules/evaluate.smk"
include: "rules/diversity.smk"
include: "rules/share.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_scores(),
        all_diversity(),
        report_files(),

"""maft: multiagent finetuning (Subramaniam et al., ICLR 2025) as a Snakemake pipeline.

Data flows problems -> debate -> shards -> agents -> scores -> report; each stage is a module here.
"""

__version__ = "0.1.0"

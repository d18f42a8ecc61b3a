# Artifacts a method would compute exactly as an earlier method does are copied from it
# (scripts/share_artifact.py records the source), one rule per kind, so that each matches only the
# methods that share it:
# - iteration 0 is the base model's debate: a method whose debate settings equal an earlier method's
#   (plan.base_debate_source) writes the same transcript, seeds included; a one-round method copies
#   round 0 of a wider debate (the rows its own rounds and agents cover);
# - after it, methods that evaluate the same method's agents seat the same weights: single-agent FT
#   w/o debate's test debate is round 0 of agent 0 of single-agent FT's (plan.trained_debate_source);
# - a wholly copied test debate has its source's diversity figures;
# - a per-agent method whose iteration-1 shard of a role is an earlier method's (same base train debate
#   and agents: plan.shared_agents) trains the same agent: maft w/o critic's generators are maft's.


TRAINED = r"[1-9]\d*"
# rule name: (what it copies, the artifact in the cell, the methods that copy it, the iterations they
# copy it at, its source). A "debate" is cut to the copying method's rounds and agents, a "file" is
# copied whole, an "agent" is a directory (an adapter checkpoint).
SHARED = {
    "share_base_debate_test": ("debate", "debate-test.parquet", plan.shared_base_debates(config, "test"), "0",
                               lambda w: shared_debate_source(w, "test")),
    "share_base_debate_train": ("debate", "debate-train.parquet", plan.shared_base_debates(config, "train"), "0",
                                lambda w: shared_debate_source(w, "train")),
    "share_trained_debate_test": ("debate", "debate-test.parquet", plan.shared_trained_debates(config), TRAINED,
                                  lambda w: shared_debate_source(w, "test")),
    "share_base_diversity": ("file", "diversity.json", plan.shared_base_diversity(config), "0",
                             lambda w: shared_debate_source(w, "test", "diversity.json")),
    "share_trained_diversity": ("file", "diversity.json", plan.shared_trained_diversity(config), TRAINED,
                                lambda w: shared_debate_source(w, "test", "diversity.json")),
    **{f"share_agents_{role}": ("agent", f"agents/{role}-{{agent}}",
                                [m for m, r in plan.shared_agents(config) if r == role],
                                "1", lambda w, role=role: shared_agent_source(w, role))
       for role in ("generator", "critic")},
}

ruleorder: share_base_debate_test > share_trained_debate_test > debate
ruleorder: share_base_debate_train > debate
ruleorder: share_base_diversity > share_trained_diversity > diversity
ruleorder: share_agents_generator > finetune
ruleorder: share_agents_critic > finetune


for _name, (_kind, _file, _methods, _iters, _source) in SHARED.items():
    assert _kind in ("debate", "file", "agent"), f"SHARED[{_name!r}]: unknown kind {_kind!r}"
    _stem = _file.split(".")[0]

    rule:
        name:
            _name
        localrule: True
        input:
            _source,
        output:
            directory(f"{RES}/{CELL}/{_file}") if _kind == "agent" else f"{RES}/{CELL}/{_file}",
        wildcard_constraints:
            method="|".join(_methods) or "(?!)",
            iter=_iters,
        params:
            slice=lambda w, debate=_kind == "debate": debate_slice(w) if debate else "",
        # a copied train debate starts its method's chain as a computed one would (single-agent FT's
        # waited 8 minutes behind priority-0 jobs when it had none); plan.chain_priority is 0 for the rest
        priority: lambda w, stage=_stem: plan.chain_priority(config, w.method, int(w.iter), stage)
        log:
            f"{LOGS}/{CELL}/{_stem}.log",
        benchmark:
            f"{BENCH}/{CELL}/{_stem}.shared.tsv"
        conda:
            ENV
        shell:
            "python scripts/share_artifact.py --source {input} --out {output} {params.slice} 2> {log}"

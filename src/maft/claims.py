"""The paper's qualitative claims, checked on a study's collected scores (report.collect's DataFrame).

Each claim is tested per (model, dataset) as a list of checks on differences of two estimates:
diff ± 1.96·sqrt(se1² + se2²). A check passes only if that 95% interval lies on the claimed side of 0
(or, for a "does not" check, does not lie on the wrong side). A claim is supported only if every check
passes; it is "not tested" when the methods or iterations it needs are not in the run.

The two estimates are treated as independent. They are measured on the same test problems, so when they
are positively correlated (the usual case) the interval is wider than a paired one: conservative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

Z = 1.96
SUPPORTED, NOT_SUPPORTED, NOT_TESTED = "supported", "not supported", "not tested in this run"
# Table 2's ablations, then the appendix baselines maft is reported to beat (Fig. 10: single-agent FT at
# temperature 2; Table 5: one model told its agents apart by ID).
ABLATIONS = ("maft_nosummary", "maft_nocritic", "single_ft", "single_ft_nodebate", "majority_ft",
             "single_ft_t2", "unique_id")
FIVE_AGENTS = ("maft_5agents", "debate_5agents", "majority_ft_5agents")  # Table 4
# Per-problem values lie in [0, upper]; the Bhatia–Davis bound Var <= mu·(upper - mu) gives a conservative
# standard error where the metric files carry none.
DIVERSITY_METRICS = {"consensus": ("n", 1.0, "higher = less diverse"),
                     "embedding_dissimilarity": ("diversity_problems", 2.0, "higher = more diverse")}


@dataclass(frozen=True)
class Estimate:
    value: float
    se: float


@dataclass(frozen=True)
class Check:
    """One comparison: `label` is "A − B"; `direction` is the claimed sign of the difference:
    ">" / "<" (the interval must exclude 0 on that side) or "not <" / "not >" (it must not)."""

    label: str
    diff: float
    se: float
    direction: str

    @property
    def low(self) -> float:
        return self.diff - Z * self.se

    @property
    def high(self) -> float:
        return self.diff + Z * self.se

    @property
    def passed(self) -> bool:
        return {">": self.low > 0, "<": self.high < 0, "not <": self.high >= 0, "not >": self.low <= 0}[
            self.direction]


@dataclass
class Verdict:
    claim: str
    statement: str
    model: str
    dataset: str
    checks: list[Check] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unit: str = "percentage points"
    scale: float = 100.0

    @property
    def status(self) -> str:
        if self.missing or not self.checks:
            return NOT_TESTED
        return SUPPORTED if all(c.passed for c in self.checks) else NOT_SUPPORTED


def difference(label: str, a: Estimate, b: Estimate, direction: str) -> Check:
    return Check(label, a.value - b.value, math.hypot(a.se, b.se), direction)


def difference_of_differences(label: str, a1: Estimate, a0: Estimate, b1: Estimate, b0: Estimate,
                              direction: str) -> Check:
    """(a1 − a0) − (b1 − b0): did A change more than B?"""
    diff = (a1.value - a0.value) - (b1.value - b0.value)
    return Check(label, diff, math.sqrt(a1.se ** 2 + a0.se ** 2 + b1.se ** 2 + b0.se ** 2), direction)


def _row(cell: pd.DataFrame, method: str, iteration: int):
    hit = cell[(cell["method"] == method) & (cell["iteration"] == iteration)]
    return None if hit.empty else hit.iloc[0]


def accuracy(cell: pd.DataFrame, method: str, iteration: int) -> Estimate | None:
    r = _row(cell, method, iteration)
    return None if r is None else Estimate(float(r["accuracy"]), float(r["stderr"]))


def diversity(cell: pd.DataFrame, method: str, iteration: int, metric: str) -> Estimate | None:
    r = _row(cell, method, iteration)
    if r is None or metric not in r or pd.isna(r[metric]):
        return None
    mu = float(r[metric])
    se_col = f"{metric}_stderr"
    if se_col in r and not pd.isna(r[se_col]):
        return Estimate(mu, float(r[se_col]))
    n_col, upper, _ = DIVERSITY_METRICS[metric]
    n = r.get(n_col)
    if n is None or pd.isna(n) or n <= 0:
        return None
    return Estimate(mu, math.sqrt(max(mu * (upper - mu), 0.0) / float(n)))


def iterations(cell: pd.DataFrame, method: str) -> list[int]:
    return sorted(cell.loc[cell["method"] == method, "iteration"].astype(int))


def methods_missing(cell: pd.DataFrame, names) -> list[str]:
    present = set(cell["method"])
    return [m for m in names if m not in present]


def claim_baselines(cell: pd.DataFrame, model: str, dataset: str) -> Verdict:
    """(a) Without finetuning, debate beats the majority vote, which beats the base model (Table 1)."""
    v = Verdict("a", "debate > majority > base (no finetuning, iteration 0)", model, dataset)
    v.missing = methods_missing(cell, ("debate", "majority", "base"))
    if v.missing:
        return v
    d, m, b = (accuracy(cell, x, 0) for x in ("debate", "majority", "base"))
    v.checks = [difference("debate − majority", d, m, ">"), difference("majority − base", m, b, ">")]
    return v


def claim_ablations(cell: pd.DataFrame, model: str, dataset: str) -> Verdict:
    """(b) Multiagent finetuning beats every ablation present, at their last common iteration (Table 2)."""
    v = Verdict("b", "maft > each ablation and appendix baseline present (last common iteration)", model, dataset)
    present = [a for a in ABLATIONS if a in set(cell["method"])]
    if "maft" not in set(cell["method"]):
        v.missing.append("maft")
    if not present:
        v.missing.append("any ablation (" + ", ".join(ABLATIONS) + ")")
    if v.missing:
        return v
    for a in present:
        last = max(set(iterations(cell, "maft")) & set(iterations(cell, a)), default=0)
        if last >= 1:  # at iteration 0 nothing about finetuning would be compared
            v.checks.append(difference(f"maft − {a} (iter {last})", accuracy(cell, "maft", last),
                                       accuracy(cell, a, last), ">"))
    if not v.checks:
        v.missing.append("a finetuned iteration common to maft and an ablation")
    return v


def claim_five_agents(cell: pd.DataFrame, model: str, dataset: str) -> Verdict:
    """(e) With 5 agents, multiagent finetuning beats debate and majority FT (appendix Table 4)."""
    v = Verdict("e", "5 agents: maft > debate and maft > majority FT (1 finetuning iteration)", model, dataset)
    v.missing = methods_missing(cell, FIVE_AGENTS)
    if not v.missing and not all(1 in iterations(cell, x) for x in ("maft_5agents", "majority_ft_5agents")):
        v.missing = ["iteration 1 of maft_5agents and majority_ft_5agents"]
    if v.missing:
        return v
    m = accuracy(cell, "maft_5agents", 1)
    v.checks = [difference("maft_5agents − debate_5agents", m, accuracy(cell, "debate_5agents", 0), ">"),
                difference("maft_5agents − majority_ft_5agents", m, accuracy(cell, "majority_ft_5agents", 1), ">")]
    return v


def claim_iterations(cell: pd.DataFrame, model: str, dataset: str) -> Verdict:
    """(c) maft keeps improving over iterations while single-agent finetuning plateaus (Figure 1)."""
    v = Verdict("c", "maft keeps improving over iterations while single_ft plateaus (last iteration vs 1)",
                model, dataset)
    v.missing = methods_missing(cell, ("maft", "single_ft"))
    if v.missing:
        return v
    last = max(set(iterations(cell, "maft")) & set(iterations(cell, "single_ft")), default=0)
    if last < 2 or 1 not in iterations(cell, "maft") or 1 not in iterations(cell, "single_ft"):
        v.missing.append("iterations 1 and >= 2 of both maft and single_ft")
        return v
    m1, mL, s1, sL = (accuracy(cell, x, i) for x, i in (("maft", 1), ("maft", last), ("single_ft", 1),
                                                         ("single_ft", last)))
    v.checks = [
        difference(f"maft iter {last} − iter 1", mL, m1, ">"),
        difference(f"single_ft iter {last} − iter 1", sL, s1, "not >"),
        difference_of_differences(f"maft gain − single_ft gain (iter 1 → {last})", mL, m1, sL, s1, ">"),
    ]
    return v


def claim_diversity(cell: pd.DataFrame, model: str, dataset: str, metric: str) -> Verdict:
    """(d) maft keeps its diversity over iterations while single_ft loses it (Figures 3, 6)."""
    _, upper, meaning = DIVERSITY_METRICS[metric]
    v = Verdict("d", f"maft keeps diversity while single_ft loses it ({metric}, {meaning}; first vs last "
                     "iteration)", model, dataset, unit="(metric units)" if upper != 1.0 else "percentage points",
                scale=1.0 if upper != 1.0 else 100.0)
    v.missing = methods_missing(cell, ("maft", "single_ft"))
    if v.missing:
        return v
    last = max(set(iterations(cell, "maft")) & set(iterations(cell, "single_ft")), default=0)
    est = {(x, i): diversity(cell, x, i, metric) for x in ("maft", "single_ft") for i in (0, last)}
    if last < 1 or any(e is None for e in est.values()):
        v.missing.append(f"{metric} at iteration 0 and a finetuned iteration of both maft and single_ft")
        return v
    # Losing diversity = consensus rising / dissimilarity falling.
    loss, keep = (">", "not >") if metric == "consensus" else ("<", "not <")
    m0, mL, s0, sL = est[("maft", 0)], est[("maft", last)], est[("single_ft", 0)], est[("single_ft", last)]
    v.checks = [
        difference(f"single_ft {metric} iter {last} − iter 0", sL, s0, loss),
        difference(f"maft {metric} iter {last} − iter 0", mL, m0, keep),
        difference_of_differences("single_ft change − maft change", sL, s0, mL, m0, loss),
    ]
    return v


def evaluate(df: pd.DataFrame) -> list[Verdict]:
    """Every claim for every (model, dataset) of the study."""
    if df.empty:
        return [Verdict(c, s, "–", "–", missing=["any scores"]) for c, s in
                (("a", "debate > majority > base"), ("b", "maft > each ablation"),
                 ("c", "maft keeps improving while single_ft plateaus"),
                 ("d", "maft keeps diversity while single_ft loses it"),
                 ("e", "5 agents: maft > debate and majority FT"))]
    out = []
    for (model, dataset), cell in df.groupby(["model", "dataset"], sort=True):
        out += [claim_baselines(cell, model, dataset), claim_ablations(cell, model, dataset),
                claim_iterations(cell, model, dataset)]
        metrics = [m for m in DIVERSITY_METRICS if m in cell and cell[m].notna().any()]
        out += [claim_diversity(cell, model, dataset, m) for m in metrics] or [
            Verdict("d", "maft keeps diversity while single_ft loses it", model, dataset,
                    missing=["consensus or embedding_dissimilarity values"])]
        out.append(claim_five_agents(cell, model, dataset))
    return out


def _check_text(c: Check, scale: float) -> str:
    ok = "passes" if c.passed else "fails"
    return (f"{c.label} = {scale * c.diff:+.2f} [95% CI {scale * c.low:+.2f}, {scale * c.high:+.2f}] "
            f"(claimed {c.direction} 0: {ok})")


def markdown(verdicts: list[Verdict]) -> str:
    lines = ["Each check: difference, 95% interval diff ± 1.96·sqrt(se1² + se2²); a claim is supported only "
             "if every check's interval lies on the claimed side of 0 (\"not >\": it must not lie above 0). "
             "Accuracy in percentage points; consensus s.e. bounded by sqrt(c(1−c)/n), embedding "
             "dissimilarity s.e. by sqrt(d(2−d)/problems) (values per problem lie in [0,1] and [0,2]).", ""]
    for v in verdicts:
        status = v.status + (f" (missing: {'; '.join(v.missing)})" if v.status == NOT_TESTED else "")
        lines.append(f"- **({v.claim}) {v.statement}** — {v.model} / {v.dataset}: **{status}**")
        lines += [f"    - {_check_text(c, v.scale)}" for c in v.checks]
    return "\n".join(lines) + "\n"


def table(verdicts: list[Verdict]) -> pd.DataFrame:
    """One row per check (claims without checks get one row), for a CSV next to report.md."""
    rows = []
    for v in verdicts:
        base = {"claim": v.claim, "statement": v.statement, "model": v.model, "dataset": v.dataset,
                "status": v.status, "missing": "; ".join(v.missing)}
        for c in v.checks or [None]:
            rows.append({**base, "check": c and c.label, "direction": c and c.direction,
                         "diff": c and c.diff, "low": c and c.low, "high": c and c.high,
                         "passed": c and c.passed})
    return pd.DataFrame(rows)


def pool(runs: list[list[Verdict]]) -> list[Verdict]:
    """Each claim over independent runs (seeds; `evaluate` of each): every check's difference averaged
    over the runs, s.e. sqrt(sum se²) / k. A claim that some run did not test, or tested with other
    checks, is not tested in the pool."""
    out = []
    for v in runs[0]:
        same = [next((w for w in run if (w.statement, w.model, w.dataset) == (v.statement, v.model, v.dataset)),
                     None) for run in runs]
        if any(w is None or w.status == NOT_TESTED for w in same):
            out.append(Verdict(v.claim, v.statement, v.model, v.dataset, missing=["the claim tested in every pooled run"]))
            continue
        each = [[next((d for d in w.checks if d.label == c.label), None) for w in same] for c in v.checks]
        if any(d is None for ds in each for d in ds):
            out.append(Verdict(v.claim, v.statement, v.model, v.dataset, missing=["the same checks in every pooled run"]))
            continue
        checks = [Check(c.label, sum(d.diff for d in ds) / len(ds), math.sqrt(sum(d.se ** 2 for d in ds)) / len(ds),
                        c.direction) for c, ds in zip(v.checks, each)]
        out.append(Verdict(v.claim, v.statement, v.model, v.dataset, checks, unit=v.unit, scale=v.scale))
    return out

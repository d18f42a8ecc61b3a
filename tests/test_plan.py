"""The study plan (maft.plan) and the config schema (config/config.schema.yaml)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from maft import plan

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "config.yaml"
SCHEMA = str(ROOT / "config" / "config.schema.yaml")
PREFIX = "results/toy/toy/arithmetic"


@pytest.fixture
def config() -> dict:
    with open(CONFIG) as f:
        return yaml.safe_load(f)


# ---------------------------------------------------------------------------------------------
# plan.method / plan.check
# ---------------------------------------------------------------------------------------------


def test_default_config_checks(config):
    plan.check(config)  # no exception


def test_arithmetic_beyond_the_toys_range_is_named(config):
    config["dataset_definitions"]["arithmetic"]["max_operand"] = config["toy"]["max_operand"] + 1
    with pytest.raises(plan.ConfigError, match=r"dataset_definitions\.arithmetic\.max_operand"):
        plan.check(config)


def test_unknown_method_raises_naming_it(config):
    config["methods"] = ["maft", "maft_typo"]
    with pytest.raises(plan.ConfigError, match="maft_typo"):
        plan.check(config)
    with pytest.raises(plan.ConfigError, match="maft_typo"):
        plan.method(config, "maft_typo")


def test_uses_unknown_method_raises(config):
    config["method_definitions"]["eval_only"] = {"train": "none", "uses": "no_such_method"}
    config["methods"] = ["eval_only"]
    with pytest.raises(plan.ConfigError) as err:
        plan.check(config)
    assert "no_such_method" in str(err.value)
    assert "eval_only" in str(err.value)


def test_unknown_model_and_dataset_raise(config):
    bad = copy.deepcopy(config)
    bad["models"] = ["llama-9000"]
    with pytest.raises(plan.ConfigError, match="llama-9000"):
        plan.check(bad)
    bad = copy.deepcopy(config)
    bad["datasets"] = ["gsm"]
    with pytest.raises(plan.ConfigError, match="gsm"):
        plan.check(bad)


def test_method_takes_debate_defaults(config):
    config["debate"]["agents"] = 5
    config["debate"]["rounds"] = 3
    m = plan.method(config, "maft")
    assert (m.agents, m.rounds, m.train, m.owner) == (5, 3, "per_agent", "maft")
    assert m.roles == ["generator", "critic"]
    base = plan.method(config, "base")
    assert (base.agents, base.rounds) == (1, 1)
    assert base.roles == ["generator"]
    assert plan.method(config, "majority").rounds == 1
    assert plan.method(config, "maft_nocritic").roles == ["generator"]


def test_iterations(config):
    L = config["iterations"]
    assert plan.iterations(config, "debate") == [0]
    assert plan.iterations(config, "base") == [0]
    assert plan.iterations(config, "maft") == list(range(L + 1))
    config["iterations"] = 5
    assert plan.iterations(config, "maft") == [0, 1, 2, 3, 4, 5]
    assert plan.iterations(config, "maft_nosummary") == [0, 1]  # its own L: Table 2 compares at L = 1
    assert plan.iterations(config, "majority") == [0]


def test_agent_ids_are_for_one_pooled_model_only(config):
    config["method_definitions"]["maft"]["agent_ids"] = True
    with pytest.raises(plan.ConfigError, match=r"method_definitions\.maft\.agent_ids"):
        plan.method(config, "maft")
    assert plan.method(config, "unique_id").agent_ids and plan.method(config, "unique_id").roles == ["generator"]
    assert plan.method(config, "single_ft_t2").sampling == {"temperature": 2.0}
    assert plan.method(config, "single_ft").sampling == {}


def test_a_method_can_run_its_own_number_of_iterations(config):
    config["iterations"] = 1
    config["method_definitions"]["single_ft"]["iterations"] = 3
    assert plan.iterations(config, "maft") == [0, 1]
    assert plan.iterations(config, "single_ft") == [0, 1, 2, 3]
    assert plan.iterations(config, "single_ft_nodebate") == [0, 1, 2, 3]  # evaluates single_ft's agents
    config["method_definitions"]["maft"]["iterations"] = 0
    assert plan.iterations(config, "maft") == [0]
    assert plan.iterations(config, "debate") == [0]


def test_agent_dirs_maft(config):
    n = config["debate"]["agents"]
    gens, crits = plan.agent_dirs(config, "maft", PREFIX, 0)
    assert gens == [None] * n and crits == [None] * n
    gens, crits = plan.agent_dirs(config, "maft", PREFIX, 2)
    assert gens == [f"{PREFIX}/maft/iter2/agents/generator-{i}" for i in range(n)]
    assert crits == [f"{PREFIX}/maft/iter2/agents/critic-{i}" for i in range(n)]


def test_agent_dirs_untrained_methods_use_base(config):
    for name in ("debate", "majority", "base"):
        gens, crits = plan.agent_dirs(config, name, PREFIX, 2)
        m = plan.method(config, name)
        assert gens == [None] * m.agents and crits == [None] * m.agents


def test_agent_dirs_nocritic_uses_generators_in_every_round(config):
    gens, crits = plan.agent_dirs(config, "maft_nocritic", PREFIX, 1)
    n = config["debate"]["agents"]
    assert gens == [f"{PREFIX}/maft_nocritic/iter1/agents/generator-{i}" for i in range(n)]
    assert crits == gens


def test_agent_dirs_uses_another_methods_agents(config):
    config["method_definitions"]["maft_eval"] = {"train": "none", "uses": "maft", "summary": False}
    config["methods"] = ["maft", "maft_eval"]
    plan.check(config)
    assert plan.iterations(config, "maft_eval") == list(range(config["iterations"] + 1))
    gens, crits = plan.agent_dirs(config, "maft_eval", PREFIX, 3)
    assert gens == [f"{PREFIX}/maft/iter3/agents/generator-{i}" for i in range(3)]
    assert crits == [f"{PREFIX}/maft/iter3/agents/critic-{i}" for i in range(3)]
    assert plan.owners(config) == ["maft"]  # trained once


def test_uses_chain_raises(config):
    config["method_definitions"]["a"] = {"train": "none", "uses": "maft"}
    config["method_definitions"]["b"] = {"train": "none", "uses": "a"}
    config["methods"] = ["b"]
    with pytest.raises(plan.ConfigError, match="'a'"):
        plan.check(config)


# ---------------------------------------------------------------------------------------------
# schema validation (snakemake.utils.validate, as the Snakefile does)
# ---------------------------------------------------------------------------------------------


def test_default_config_validates(config):
    validate(config, SCHEMA)


def test_tiny_test_config_validates_after_merge(config):
    with open(ROOT / "tests" / "configs" / "tiny.yaml") as f:
        tiny = yaml.safe_load(f)
    merged = copy.deepcopy(config)
    for k, v in tiny.items():
        if isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = {**merged[k], **v}
        else:
            merged[k] = v
    validate(merged, SCHEMA)


def _invalid(config, edit) -> str:
    bad = copy.deepcopy(config)
    edit(bad)
    with pytest.raises(Exception) as err:
        validate(bad, SCHEMA)
    return str(err.value)


def test_schema_unknown_key(config):
    def edit(c):
        c["debate"]["agent"] = c["debate"].pop("agents")
    msg = _invalid(config, edit)
    assert "'agent'" in msg
    assert "Additional properties" in msg or "unexpected" in msg


def test_schema_unknown_top_level_key(config):
    msg = _invalid(config, lambda c: c.update(iteration=3))
    assert "'iteration'" in msg


def test_schema_wrong_type(config):
    msg = _invalid(config, lambda c: c.update(iterations="three"))
    assert "'three'" in msg
    assert "iterations" in msg


def test_schema_zero_agents(config):
    msg = _invalid(config, lambda c: c["debate"].update(agents=0))
    assert "['debate']['agents']" in msg
    assert "minimum" in msg


def test_schema_zero_rounds(config):
    msg = _invalid(config, lambda c: c["debate"].update(rounds=0))
    assert "['debate']['rounds']" in msg
    assert "minimum" in msg


def test_schema_w_above_one(config):
    msg = _invalid(config, lambda c: c["selection"].update(w=1.5))
    assert "1.5" in msg
    assert "['selection']['w']" in msg


def test_schema_unknown_tie_break(config):
    msg = _invalid(config, lambda c: c["debate"].update(tie_break="coin"))
    assert "'coin'" in msg


def test_pooled_method_plays_every_agent_with_one_model(config):
    cfg = config
    m = plan.method(cfg, "single_ft")
    assert m.train == "pooled" and m.roles == ["generator"] and m.trained_agents == 1
    gens, crits = plan.agent_dirs(cfg, "single_ft", "P", 2)
    assert gens == crits == ["P/single_ft/iter2/agents/generator-0"] * cfg["debate"]["agents"]
    nodebate = plan.method(cfg, "single_ft_nodebate")
    assert (nodebate.agents, nodebate.rounds, nodebate.owner) == (1, 1, "single_ft")
    gens, crits = plan.agent_dirs(cfg, "single_ft_nodebate", "P", 1)
    assert gens == ["P/single_ft/iter1/agents/generator-0"]
    assert plan.iterations(cfg, "single_ft_nodebate") == list(range(cfg["iterations"] + 1))


# ---------------------------------------------------------------------------------------------
# plan.base_debate_source: iteration-0 debates shared between methods
# ---------------------------------------------------------------------------------------------

COMPARISON = ["base", "majority", "debate", "star", "majority_ft", "single_ft", "single_ft_nodebate", "maft",
              "maft_nosummary", "maft_nocritic", "single_ft_t2", "unique_id", "maft_5agents", "debate_5agents",
              "majority_ft_5agents"]


def test_methods_with_the_same_base_debate_copy_the_first_in_definition_order(config):
    config["methods"] = COMPARISON
    assert plan.shared_base_debates(config) == {
        # 3 agents x 2 rounds with summaries: the base model's debate
        "maft_nocritic": "maft", "single_ft": "maft", "debate": "maft",
        # 1 sample and 3 samples, no debate: the first of each takes round 0 of the debate, the rest copy it
        "single_ft_nodebate": "maft", "majority_ft": "maft",
        "majority": "majority_ft", "star": "single_ft_nodebate", "base": "single_ft_nodebate",
        "debate_5agents": "maft_5agents", "majority_ft_5agents": "maft_5agents",
    }
    # figures computed from a debate are shared where the whole debate is, not for a round-0 slice
    assert plan.shared_base_diversity(config) == {
        "maft_nocritic": "maft", "single_ft": "maft", "debate": "maft", "majority": "majority_ft",
        "star": "single_ft_nodebate", "base": "single_ft_nodebate", "debate_5agents": "maft_5agents"}


def test_only_methods_that_train_their_own_agents_debate_on_train(config):
    config["methods"] = COMPARISON
    # star's 1-sample train debate has no twin among the trainers (single_ft_nodebate trains nothing):
    # it is round 0 of agent 0 of maft's, as majority FT's is round 0 of every agent; maft w/o critic
    # copies maft's iteration-1 generators, so it has no iteration-0 train debate to copy
    assert not plan.debates_on_base(config, "maft_nocritic", "train")
    assert plan.debates_on_base(config, "maft_nocritic", "test")
    assert plan.shared_base_debates(config, "train") == {
        "single_ft": "maft", "majority_ft": "maft", "star": "maft",
        "majority_ft_5agents": "maft_5agents"}
    assert plan.base_debate_source(config, "star", "train") == "maft"
    assert not plan.debates_on(config, "single_ft_nodebate", "train")


def test_a_different_debate_setting_keeps_its_own_base_debate(config):
    config["methods"] = COMPARISON
    # concatenated answers, temperature 2, agent IDs in the prompts
    for name in ("maft_nosummary", "single_ft_t2", "unique_id", "maft", "maft_5agents"):
        assert plan.base_debate_source(config, name) == name


def test_the_shared_source_does_not_depend_on_the_order_of_methods(config):
    config["methods"] = ["debate", "maft"]
    assert plan.shared_base_debates(config) == {"debate": "maft"}
    config["methods"] = ["debate", "base"]
    assert plan.shared_base_debates(config) == {"base": "debate"}  # base is debate's round 0, agent 0
    assert plan.shared_base_diversity(config) == {}
    config["methods"] = ["base", "majority"]
    assert plan.shared_base_debates(config) == {}  # no multi-round debate to take round 0 from


def test_a_methods_own_sampling_is_part_of_its_base_debate(config):
    config["methods"] = ["maft", "debate"]
    config["method_definitions"]["debate"]["sampling"] = {"top_p": 0.5}
    assert plan.shared_base_debates(config) == {}


def test_the_owner_of_evaluated_agents_can_be_the_source(config):
    # single_ft_nodebate evaluates single_ft's model, so single_ft trains (its train debate is maft's);
    # single_ft itself is not chosen, so it is not tested and no test debate of its is a source
    config["methods"] = ["single_ft_nodebate", "maft"]
    assert plan.study_methods(config) == ["maft", "single_ft", "single_ft_nodebate"]
    assert plan.shared_base_debates(config, "train") == {"single_ft": "maft"}
    assert plan.shared_base_debates(config) == {"single_ft_nodebate": "maft"}
    assert plan.shared_trained_debates(config) == {}
    config["methods"] = ["single_ft_nodebate"]
    assert plan.shared_base_debates(config) == {}  # no test debate of single_ft's to slice


# ---------------------------------------------------------------------------------------------
# plan.trained_debate_source: test debates after iteration 0 shared between methods
# ---------------------------------------------------------------------------------------------

def test_methods_that_evaluate_the_same_agents_share_their_test_debates(config):
    config["methods"] = COMPARISON
    # single_ft_nodebate seats single_ft's model as its one agent: round 0 of agent 0 of its debate
    assert plan.shared_trained_debates(config) == {"single_ft_nodebate": "single_ft"}
    assert plan.shared_trained_diversity(config) == {}  # a slice has figures of its own
    # a method with agents of its own (every trainer) never copies another's
    for name in ("maft", "maft_nosummary", "maft_nocritic", "single_ft", "majority_ft", "star", "unique_id"):
        assert plan.trained_debate_source(config, name) == name
    assert plan.trained_debate_source(config, "debate") == "debate"  # trains nothing: iteration 0 only


def test_a_twin_evaluator_copies_the_whole_debate_and_its_figures(config):
    config["method_definitions"]["single_ft_again"] = {"train": "none", "uses": "single_ft"}
    config["method_definitions"]["single_ft_hot"] = {"train": "none", "uses": "single_ft", "agents": 1, "rounds": 1,
                                                     "sampling": {"temperature": 2.0}}
    config["methods"] = ["single_ft_hot", "single_ft_again", "single_ft", "single_ft_nodebate"]
    assert plan.shared_trained_debates(config) == {"single_ft_again": "single_ft", "single_ft_nodebate": "single_ft"}
    assert plan.shared_trained_diversity(config) == {"single_ft_again": "single_ft"}
    # without single_ft tested, the first evaluator with the same agents and settings is the source
    config["methods"] = ["single_ft_again", "single_ft_nodebate"]
    assert plan.shared_trained_debates(config) == {"single_ft_nodebate": "single_ft_again"}


# ---------------------------------------------------------------------------------------------
# plan.shared_agents: iteration-1 agents trained on the same shard
# ---------------------------------------------------------------------------------------------

def test_an_ablation_shares_the_iteration_1_agents_it_would_train_alike(config):
    config["methods"] = COMPARISON
    # w/o critic trains maft's generators on maft's shards; w/o summary debates differently (its own
    # train debate), 5 agents debate differently, pooled methods train one model on other data
    assert plan.shared_agents(config) == {("maft_nocritic", "generator"): "maft"}
    config["methods"] = ["maft_nocritic", "maft_nosummary"]
    assert plan.shared_agents(config) == {}


def test_a_later_method_with_critics_shares_both_roles(config):
    config["method_definitions"]["maft_twice"] = {"train": "per_agent", "iterations": 1}
    config["methods"] = ["maft_nocritic", "maft_twice"]
    # definition order decides who trains: maft_nocritic's generators, then maft_twice's critics
    assert plan.shared_agents(config) == {("maft_twice", "generator"): "maft_nocritic"}
    config["method_definitions"]["maft_twice"]["sampling"] = {"temperature": 2.0}
    assert plan.shared_agents(config) == {}  # another base debate, other shards


def test_shard_files_are_each_trainers_own(config):
    L, n = config["iterations"], config["debate"]["agents"]
    maft = plan.shard_files(config, "maft", "R")
    assert len(maft) == 2 * n * L and "R/maft/iter1/shards/critic-2.parquet" in maft
    # w/o critic copies maft's iteration-1 generators (plan.shared_agents): no shard of its own
    assert plan.shard_files(config, "maft_nocritic", "R") == []
    assert plan.shard_files(config, "single_ft", "R") == [f"R/single_ft/iter{i}/shards/generator-0.parquet"
                                                          for i in range(1, L + 1)]
    # evaluators of another method's agents and untrained methods select nothing
    assert plan.shard_files(config, "single_ft_nodebate", "R") == plan.shard_files(config, "debate", "R") == []
    assert plan.shard_files(config, "majority_ft", "R") == ["R/majority_ft/iter1/shards/generator-0.parquet"]

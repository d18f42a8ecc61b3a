"""The study plan: config -> methods, iterations and artifact paths. Imported by rules/common.smk.

Paths follow ../shared/DESIGN.md:
  results/{run}/data/{dataset}/{split}.parquet
  results/{run}/base/{model}/                                   (toy only)
  results/{run}/{model}/{dataset}/{method}/iter{i}/debate-{split}.parquet
  results/{run}/{model}/{dataset}/{method}/iter{i}/shards/{role}-{agent}.parquet   (i >= 1)
  results/{run}/{model}/{dataset}/{method}/iter{i}/agents/{role}-{agent}/          (i >= 1)
  results/{run}/{model}/{dataset}/{method}/iter{i}/scores.json
"""

from __future__ import annotations

from dataclasses import dataclass


class ConfigError(ValueError):
    """A config that validates against the schema but does not make a study; names the key."""


@dataclass(frozen=True)
class Method:
    name: str
    train: str  # none | per_agent | pooled
    agents: int
    rounds: int
    summary: bool
    critics: bool
    owner: str  # the method whose training produced the agents this one evaluates
    iterations: int  # L for this method (its owner's, when it evaluates another method's agents)
    sampling: dict  # the agents' sampling settings that differ from the study's (e.g. temperature 2)
    agent_ids: bool  # every prompt names its agent and role: one model plays agents told apart by ID

    @property
    def roles(self) -> list[str]:
        """Roles that get finetuned: a pooled method trains one model, stored as generator-0."""
        if self.train in ("pooled", "star"):
            return ["generator"]
        return ["generator", "critic"] if self.critics and self.rounds > 1 else ["generator"]

    @property
    def trained_agents(self) -> int:
        return 1 if self.train in ("pooled", "star") else self.agents


def method(config: dict, name: str) -> Method:
    defs = config["method_definitions"]
    if name not in defs:
        raise ConfigError(f"methods: {name!r} has no entry in method_definitions (known: {sorted(defs)})")
    d = defs[name]
    owner = d.get("uses") or name
    if owner not in defs:
        raise ConfigError(f"method_definitions.{name}.uses: {owner!r} is not a defined method")
    if owner != name and defs[owner].get("uses"):
        raise ConfigError(f"method_definitions.{name}.uses: {owner!r} itself uses another method")
    train = defs[owner]["train"] if owner != name else d["train"]
    agents = d.get("agents") or config["debate"]["agents"]
    rounds = d.get("rounds") or config["debate"]["rounds"]
    # A per-method L lets one study run the iterations a figure needs for some methods only (Figure 1:
    # maft and single_ft over iterations; Table 1: everything at L = 1).
    its = defs[owner].get("iterations")
    # an ID-conditioned model needs its IDs whoever evaluates it
    agent_ids = bool(defs[owner].get("agent_ids", False))
    if agent_ids and train != "pooled":
        raise ConfigError(f"method_definitions.{owner}.agent_ids: only a pooled method (one model for every "
                          f"agent) is told its agents apart by ID, not train: {train}")
    return Method(name, train, agents, rounds, d.get("summary", True), d.get("critics", True), owner,
                  config["iterations"] if its is None else its, dict(d.get("sampling") or {}), agent_ids)


def check(config: dict) -> None:
    """Cross-key checks the JSON schema cannot express; each error names the key at fault."""
    for key, defs in (("models", "model_definitions"), ("datasets", "dataset_definitions")):
        for name in config[key]:
            if name not in config[defs]:
                raise ConfigError(f"{key}: {name!r} has no entry in {defs} (known: {sorted(config[defs])})")
    for name in config["methods"]:
        method(config, name)
    if config["run"] in config.get("pool_with", []):
        raise ConfigError(f"pool_with: {config['run']!r} is this run itself; name the other runs to pool with it")
    for name in config["datasets"]:
        source = config["dataset_definitions"][name].get("transfer_from")
        if source is None:
            continue
        if source not in config["dataset_definitions"]:
            raise ConfigError(f"dataset_definitions.{name}.transfer_from: {source!r} is not a defined dataset")
        if config["dataset_definitions"][source].get("transfer_from"):
            raise ConfigError(f"dataset_definitions.{name}.transfer_from: {source!r} itself transfers")
    for name in config["models"]:
        d = config["model_definitions"][name]
        if d.get("download") and (d["source"] == "toy" or d["source"].startswith(("/", "."))):
            raise ConfigError(f"model_definitions.{name}.download: only a hub id can be downloaded, "
                              f"not {d['source']!r}")
    if any(config["model_definitions"][m]["source"] == "toy" for m in config["models"]):
        if "toy" not in config:
            raise ConfigError("toy: a model has source 'toy' but the config has no 'toy' block")
        from maft.problems import max_operand

        toy_range = max_operand(config["toy"])
        for name in config["datasets"]:
            d = config["dataset_definitions"][name]
            if d["kind"] == "arithmetic" and max_operand(d) > toy_range:
                raise ConfigError(f"dataset_definitions.{name}.max_operand: {max_operand(d)} is larger than "
                                  f"toy.max_operand ({toy_range}): the toy never saw such numbers")


def config_digest(config: dict) -> str:
    """Digest of the whole study config (the report names it; each artifact has its own job digest)."""
    from maft.artifacts import digest

    return digest(config)


def training_dataset(config: dict, dataset: str) -> str:
    """The dataset whose agents are evaluated on `dataset` (itself, unless it transfers zero-shot)."""
    return config["dataset_definitions"][dataset].get("transfer_from") or dataset


def all_datasets(config: dict) -> list[str]:
    """Evaluated datasets plus those that only supply agents to a zero-shot transfer."""
    out = list(config["datasets"])
    for d in config["datasets"]:
        if training_dataset(config, d) not in out:
            out.append(training_dataset(config, d))
    return out


def trains(config: dict, name: str) -> bool:
    return method(config, name).train != "none"


def iterations(config: dict, name: str) -> list[int]:
    """Iterations evaluated for a method: 0..L when it (or the method it uses) trains, else only 0.
    L is the method's own `iterations` (its owner's, for a method that `uses` another), else the study's."""
    m = method(config, name)
    return list(range(m.iterations + 1)) if m.train != "none" else [0]


def owners(config: dict) -> list[str]:
    """Methods whose training must run (each once, however many methods evaluate its agents)."""
    out = []
    for name in config["methods"]:
        m = method(config, name)
        if m.train != "none" and m.owner not in out:
            out.append(m.owner)
    return out


def study_methods(config: dict) -> list[str]:
    """The methods the study runs and those whose agents they evaluate, in method_definitions order."""
    chosen = set(config["methods"]) | set(owners(config))
    return [name for name in config["method_definitions"] if name in chosen]


def debate_settings(config: dict, name: str) -> dict:
    """What a method's debate job reads besides the problems, seeds and weights (its `method` params)."""
    m = method(config, name)
    return {"rounds": m.rounds, "summary": m.summary, "sampling": m.sampling, "agent_ids": m.agent_ids}


def base_debate_source(config: dict, name: str, split: str = "test") -> str:
    """The method whose iteration-0 debate on `split` `name` copies, or `name` itself.

    Iteration 0 is the base model's debate, and seeds come from (seed, iteration, split, problem,
    agent, round), never from the method's name: two such jobs write the same rows. So a method
    copies the first one in the study with the same agents and debate settings that debates on that
    split itself (every method is tested, only trained ones debate on train). A one-round method with
    no such twin takes round 0 of the first multi-round debate with at least as many agents and the
    same prompts and sampling (the copy keeps its own rounds and agents): round 0 is the generators'
    answers, which read nothing of the other agents, so majority and base are debate's own round 0.
    """
    return _copy_source(config, name, [n for n in study_methods(config) if debates_on_base(config, n, split)])


def trained_debate_source(config: dict, name: str) -> str:
    """The method whose test debate at every iteration >= 1 `name` copies, or `name` itself.

    Methods that evaluate the same method's agents (`uses`) seat the same weights: agent n is the
    owner's generator n (mod its trained agents) and critic n. With the same seeds that gives the
    rules of `base_debate_source` among them: single-agent FT w/o debate is round 0 of agent 0 of
    single-agent FT's debate, at every iteration."""
    m = method(config, name)
    if m.train == "none":
        return name
    return _copy_source(config, name, [n for n in study_methods(config)
                                       if debates_on(config, n, "test") and method(config, n).owner == m.owner])


def _copy_source(config: dict, name: str, candidates: list[str]) -> str:
    """The first of `candidates` (the methods whose debate `name`'s would equal with the same settings)
    with `name`'s agents and debate settings, else for a one-round method the first multi-round one with
    at least as many agents and the same prompts and sampling, else `name`."""
    twin = next((other for other in candidates if _debate_key(config, other) == _debate_key(config, name)), name)
    m = method(config, name)
    if twin != name or m.rounds != 1:
        return twin
    prompts = lambda n: (method(config, n).sampling, method(config, n).agent_ids)  # noqa: E731
    wider = (n for n in candidates if method(config, n).rounds > 1 and method(config, n).agents >= m.agents
             and prompts(n) == prompts(name))
    return next(wider, name)


def _debate_key(config: dict, name: str):
    return method(config, name).agents, debate_settings(config, name)


def debates_on(config: dict, name: str, split: str) -> bool:
    """The methods the study chooses are tested (a method whose agents another evaluates, and that
    is not chosen itself, is only trained); only a method that trains its own agents debates on train."""
    m = method(config, name)
    if split == "test":
        return name in config["methods"]
    return m.train != "none" and m.owner == name


def debates_on_base(config: dict, name: str, split: str) -> bool:
    """Whether `name` has an iteration-0 debate on `split`: on train, only a method that selects some
    iteration-1 shard itself (maft w/o critic copies maft's generators, so nothing reads its own)."""
    if not debates_on(config, name, split):
        return False
    shared = shared_agents(config)
    return split == "test" or any((name, role) not in shared for role in method(config, name).roles)


def shared_base_debates(config: dict, split: str = "test") -> dict[str, str]:
    """{method: the method it copies its iteration-0 `split` debate from}, for every method that copies."""
    names = [n for n in study_methods(config) if debates_on_base(config, n, split)]
    out = {name: base_debate_source(config, name, split) for name in names}
    return {name: source for name, source in out.items() if source != name}


def shared_base_diversity(config: dict) -> dict[str, str]:
    """{method: the method whose iteration-0 diversity figures it copies}: those that copy a whole test
    debate (a round-0 slice has figures of its own)."""
    return _whole_copies(config, shared_base_debates(config, "test"))


def shared_trained_debates(config: dict) -> dict[str, str]:
    """{method: the method whose test debates at iterations >= 1 it copies}, for every method that copies."""
    names = [n for n in study_methods(config) if debates_on(config, n, "test")]
    out = {name: trained_debate_source(config, name) for name in names}
    return {name: source for name, source in out.items() if source != name}


def shared_trained_diversity(config: dict) -> dict[str, str]:
    """{method: the method whose diversity figures at iterations >= 1 it copies}: whole copies only."""
    return _whole_copies(config, shared_trained_debates(config))


def _whole_copies(config: dict, shared: dict[str, str]) -> dict[str, str]:
    """The pairs of `shared` where the copy is its source's whole debate (the same agents and settings),
    not a slice of its first rounds and agents: only those have the source's figures too."""
    return {n: s for n, s in shared.items() if _debate_key(config, s) == _debate_key(config, n)}


def shared_agents(config: dict) -> dict[tuple[str, str], str]:
    """{(method, role): the method whose iteration-1 agents of that role it copies}.

    At iteration 1 a per-agent method's shard of a role depends only on the train debate it selects
    from (the base model's) and on settings that are the study's, not the method's (selection, tie
    break, seeds); its finetune reads the shard, the base and the study's `finetune` block. So two
    per-agent methods with the same agents and debate settings (one iteration-0 train debate) train
    the same agents of every role both finetune: maft w/o critic's generators are maft's. Later
    iterations debate with different agents and are never shared.
    """
    trainers = [n for n in study_methods(config)
                if method(config, n).train == "per_agent" and method(config, n).owner == n
                and method(config, n).iterations >= 1]
    out = {}
    for i, name in enumerate(trainers):
        for role in method(config, name).roles:
            source = next((s for s in trainers[:i] if _debate_key(config, s) == _debate_key(config, name)
                           and role in method(config, s).roles), None)
            if source is not None:
                out[(name, role)] = source
    return out


def shard_files(config: dict, name: str, prefix: str) -> list[str]:
    """The shards `name` selects for its own finetunes at iterations 1..L: none when it trains nothing or
    evaluates another method's agents, and none at iteration 1 for a role whose agents it copies
    (shared_agents). prefix: results/{run}/{model}/{dataset}"""
    m = method(config, name)
    if m.train == "none" or m.owner != name:
        return []
    shared = shared_agents(config)
    return [f"{prefix}/{name}/iter{i}/shards/{role}-{n}.parquet"
            for i in range(1, m.iterations + 1) for role in m.roles if not (i == 1 and (name, role) in shared)
            for n in range(m.trained_agents)]


def agent_dirs(config: dict, name: str, prefix: str, iteration: int) -> tuple[list[str | None], list[str | None]]:
    """Generator and critic weights of each agent of `name` at `iteration` (None = base model).

    prefix: results/{run}/{model}/{dataset}
    """
    m = method(config, name)
    if m.train == "none" or iteration == 0:
        return [None] * m.agents, [None] * m.agents
    owner = method(config, m.owner)
    root = f"{prefix}/{m.owner}/iter{iteration}/agents"
    gens = [f"{root}/generator-{n % owner.trained_agents}" for n in range(m.agents)]
    if "critic" in owner.roles:
        crits = [f"{root}/critic-{n % owner.agents}" for n in range(m.agents)]
    else:
        crits = list(gens)  # w/o critic: the finetuned generators answer every round
    return gens, crits


CHAIN_STAGES = ("debate-train", "rationalize", "select", "finetune")


def chain_priority(config: dict, name: str, iteration: int, stage: str) -> int:
    """Scheduling priority of a job: how much of its method's chain of iterations is still ahead of
    it, so that long chains start first and the short jobs fill the gaps beside them.

    Only train debates, rationales, shards and finetunes lead to the next iteration; test debates,
    scores and diversity end a branch (0). A finetune of iteration i has L - i + 1 finetunes ahead,
    itself included; a train debate of iteration i has L - i. A pooled method's finetune trains on every
    agent's data in one job that cannot be split, so its chain counts N times (single-agent FT's chain
    is the study's longest); a per-agent method's 2N finetunes run side by side.
    """
    if stage not in CHAIN_STAGES:
        return 0
    m = method(config, name)
    if m.train == "none" or m.owner != name:
        return 0
    ahead = m.iterations - iteration + (stage in ("select", "finetune"))
    return max(0, ahead) * (m.agents if m.train == "pooled" else 1)

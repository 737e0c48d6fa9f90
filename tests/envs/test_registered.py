"""Every registered id: Gymnasium's env checker, seeded determinism, a random rollout to its end,
and the info contract. Families whose extra is not installed are skipped.

Box-observation variants (``...-Image-v0``, ``...-Glyphs-v0``; ``EnvEntry.base_id`` set) get the env
checker and a lighter check in place of the rollout: a variant is its base env built with ``obs=<key>``,
which changes only how the observation is packed (same class, dynamics, rewards, step limit and
seeding). So the variant is run against its base with the same seed and actions and must give exactly
``base_obs[key]``, the same rewards and the same ends, twice over (seeded determinism); the base id's
full checks (rollout to its end, info contract, step limit) then hold for the variant too. That keeps
the 79 extra ids to a fraction of the suite's time.
"""

import importlib.util
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sparsegym
from sparsegym.checks import check_env_id
from sparsegym.envs.registry import BOX_OBS_TAG, ENTRIES, box_variant_id, get_entry

_EXTRA_MODULE = {"minigrid": "minigrid", "nethack": "nle", "text": "textworld", "webshop": "bm25s", "swe": "docker"}


def _params(variants: bool = False):
    for e in ENTRIES:
        if (e.base_id is not None) != variants:
            continue
        marks = []
        module = _EXTRA_MODULE.get(e.extra)
        if module and importlib.util.find_spec(module) is None:
            marks.append(pytest.mark.skip(reason=f'needs pip install "sparsegym[{e.extra}]"'))
        if "swe-docker" in e.tags:  # needs a Docker engine and a task file
            marks.append(pytest.mark.skip(reason="needs a Docker engine: tested in test_swe.py"))
        if "webshop-real" in e.tags:  # needs the original's data files
            marks.append(pytest.mark.skip(reason="needs WEBSHOP_DATA: tested on a real-format fixture in test_webshop.py"))
        if e.family == "alfworld":  # games are generated on first use (seconds each): see test_alfworld.py
            marks.append(pytest.mark.slow)
        yield pytest.param(e, id=e.name, marks=marks)


@pytest.mark.parametrize("entry", [*_params(), *_params(variants=True)])
def test_env_checker_passes_without_warnings(entry):
    env = sparsegym.make(entry.id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        check_env(env.unwrapped, skip_render_check=True)
    env.close()


def _first_observations(env_id, seed, n=50):
    env = sparsegym.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    frames = [obs]
    for _ in range(n - 1):
        obs, _, term, trunc, _ = env.step(env.action_space.sample())
        frames.append(obs)
        if term or trunc:
            obs, _ = env.reset()
            frames.append(obs)
    return frames[:n]


def _flat(obs):
    return np.concatenate([np.asarray(obs[k]).ravel() for k in sorted(obs)]) if isinstance(obs, dict) else np.asarray(obs)


@pytest.mark.parametrize("entry", list(_params()))
def test_same_seed_same_first_50_observations(entry):
    a = _first_observations(entry.id, seed=7)
    b = _first_observations(entry.id, seed=7)
    assert len(a) == len(b) == 50
    for i, (x, y) in enumerate(zip(a, b)):
        assert np.array_equal(_flat(x), _flat(y)), f"{entry.id}: observation {i} differs between runs with one seed"
    # ...and another seed gives another episode (the check above could not pass by accident).
    c = _first_observations(entry.id, seed=8)
    assert any(not np.array_equal(_flat(x), _flat(y)) for x, y in zip(a, c))


@pytest.mark.parametrize("entry", list(_params()))
def test_random_rollout_ends_and_keeps_the_info_contract(entry):
    result = check_env_id(entry.id, seed=3)
    assert result.rollout_ended, result.problems
    assert result.contract, result.problems
    assert result.ok, result.problems
    if entry.max_episode_steps is not None:
        assert result.rollout_steps <= entry.max_episode_steps


def _paired_run(var, base, key, seed, n=50):
    """``n`` steps of a variant and of its base from one seed with one action sequence: the variant's
    observations, rewards and ends, and the base's with ``obs[key]`` in place of its observation."""
    base.action_space.seed(seed)
    out_v, out_b = [(var.reset(seed=seed)[0],)], [(base.reset(seed=seed)[0][key],)]
    for _ in range(n - 1):
        action = base.action_space.sample()
        v_obs, v_r, v_term, v_trunc, _ = var.step(action)
        b_obs, b_r, b_term, b_trunc, _ = base.step(action)
        out_v.append((v_obs, v_r, v_term, v_trunc))
        out_b.append((b_obs[key], b_r, b_term, b_trunc))
        if b_term or b_trunc:
            out_v.append((var.reset()[0],))
            out_b.append((base.reset()[0][key],))
    return out_v, out_b


def _same_steps(a, b):
    return len(a) == len(b) and all(np.array_equal(x[0], y[0]) and x[1:] == y[1:] for x, y in zip(a, b))


@pytest.mark.parametrize("entry", list(_params(variants=True)))
def test_box_variant_is_its_base_with_one_observation_key(entry):
    key = entry.kwargs["obs"]
    assert entry.id == box_variant_id(entry.base_id, key)
    assert entry.tags == (BOX_OBS_TAG,) and get_entry(entry.base_id).base_id is None
    var, base = sparsegym.make(entry.id), sparsegym.make(entry.base_id)
    assert isinstance(var.observation_space, gymnasium.spaces.Box)
    assert var.observation_space == base.observation_space[key]
    assert var.action_space == base.action_space
    first, base_steps = _paired_run(var, base, key, seed=7)
    assert _same_steps(first, base_steps), f"{entry.id} differs from {entry.base_id}'s {key!r}"
    # Seeded-reset determinism: a second seeded reset of the same env replays the first run exactly.
    again, _ = _paired_run(var, base, key, seed=7)
    assert _same_steps(first, again), f"{entry.id}: not deterministic under one seed"
    var.close()
    base.close()


@pytest.mark.parametrize("entry", [p for p in _params() if p.values[0].family == "minigrid"])
def test_table_step_limit_matches_the_env(entry):
    env = sparsegym.make(entry.id)
    env.reset(seed=0)
    if entry.max_episode_steps is None:  # varies per episode: check that it really does
        limits = set()
        for seed in range(6):
            env.reset(seed=seed)
            limits.add(env.unwrapped.max_steps)
        assert len(limits) > 1
    else:
        assert env.unwrapped.max_steps == entry.max_episode_steps


def test_checker_reports_a_broken_env():
    # An env whose reset ignores its seed must fail the determinism check.
    class Unseeded(gymnasium.Env):
        observation_space = gymnasium.spaces.Box(0, 1, (2,), np.float32)
        action_space = gymnasium.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return np.random.default_rng().random(2, dtype=np.float32), {"success": False, "reward_components": {"extrinsic": 0.0}}

        def step(self, action):
            info = {"success": False, "reward_components": {"extrinsic": 0.0}}
            return np.random.default_rng().random(2, dtype=np.float32), 0.0, True, False, info

    from sparsegym.envs import registry

    fake = registry.EnvEntry("sparsegym/Broken-Unseeded-v0", "test", "x:y", {}, 10, (), "minigrid", "broken")
    gymnasium.register(fake.id, entry_point=Unseeded)
    registry._BY_ID[fake.id] = fake
    try:
        result = check_env_id(fake.id)
    finally:
        del registry._BY_ID[fake.id]
        del gymnasium.registry[fake.id]
    assert not result.ok
    assert not result.deterministic
    assert any("not deterministic" in p or "env checker" in p for p in result.problems)

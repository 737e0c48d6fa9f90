"""Ray rollout workers: the same trajectories and the same training as the local backend, the CLI's
--backend ray, and clear errors. Ray is the session's (``ray_session`` in tests/conftest.py)."""

import sys

import pytest

torch = pytest.importorskip("torch")

from sparsegym.agents.text import TextRLConfig, TextRLTrainer  # noqa: E402
from sparsegym.agents.text.policy import UniformPolicy  # noqa: E402
from sparsegym.agents.text.rollout import EnvPool, LocalEnvPool, collect, env_instructions  # noqa: E402
from sparsegym.agents.text.workers import EnvFactory, RayEnvPool  # noqa: E402
from sparsegym.errors import ConfigError, MissingDependencyError  # noqa: E402

SMALL = {"buckets": 2**10, "embed_dim": 16, "hidden": 32}


@pytest.fixture
def remote_corridor(ray_session, corridor):
    """The Corridor env class, pickled by value (the workers cannot import a conftest)."""
    from ray import cloudpickle  # Ray's own copy of cloudpickle pickles the actors' arguments

    cloudpickle.register_pickle_by_value(sys.modules[corridor.__module__])
    return corridor


def _key(trajs):
    """Everything a trajectory holds, as plain data."""
    return [(t.task_seed, t.group, [(u.observation, u.actions, u.history) for u in t.turns],
             [(c.action, c.index, c.logprob) for c in t.choices], t.rewards, t.invalid, t.terminated, t.truncated,
             t.success) for t in trajs]


def test_ray_backend_collects_and_trains_exactly_as_the_local_one(remote_corridor):
    corridor = remote_corridor
    trainers = {}
    for backend in ("local", "ray"):  # 8 episodes an iteration on 3 envs: waves of 3, 3 and 2
        cfg = TextRLConfig(group_size=4, groups_per_iteration=2, num_envs=3, policy_kwargs=SMALL, seed=3,
                           backend=backend, num_workers=2)
        trainers[backend] = TextRLTrainer(lambda: corridor(n=5, starts=3), config=cfg)
    local, remote = trainers["local"], trainers["ray"]
    try:
        pool = remote._ensure_envs()  # 3 envs on 2 actors: envs 0 and 2 on actor 0, env 1 on actor 1
        assert isinstance(pool, RayEnvPool) and isinstance(pool, EnvPool)
        assert len(pool) == 3 and pool.num_workers == 2 and len(pool.actors) == 2
        assert pool.instructions() == [env_instructions(corridor())] * 3 and corridor.rules in pool.instructions()[0]
        assert [env.spec for env in pool] == [None] * 3  # a function's envs have no registered spec

        # collect: the same trajectories from local envs and from the pool.
        mine = collect(local._ensure_envs(), UniformPolicy(), [4, 9], 4, generator=torch.Generator().manual_seed(1))
        theirs = collect(pool, UniformPolicy(), [4, 9], 4, generator=torch.Generator().manual_seed(1))
        assert _key(theirs) == _key(mine)
        assert [t.task_seed for t in theirs] == [4] * 4 + [9] * 4 and [t.group for t in theirs] == [0] * 4 + [1] * 4
        assert sum(t.length for t in theirs) > 8  # real episodes, not one-step ones

        # learn: the same statistics and the same parameters after an iteration.
        h_local, h_ray = local.learn(8, progress=False), remote.learn(8, progress=False)
        assert len(h_local) == len(h_ray) == 1
        for k in ("batch_return", "batch_success", "episode_length", "policy_loss", "frames"):
            assert h_local[0][k] == h_ray[0][k], k
        p_local, p_ray = local.policy.state_dict(), remote.policy.state_dict()
        assert all(torch.equal(p_local[k], p_ray[k]) for k in p_local)
    finally:
        local.close()
        remote.close()
    assert remote.envs == [] and pool.actors == []


def test_more_workers_than_the_cluster_has_cpus_is_refused(ray_session, corridor):
    with pytest.raises(ConfigError, match="3 Ray rollout workers need 3 CPUs and the Ray cluster has 2: lower"):
        RayEnvPool(EnvFactory(corridor), num_envs=4, num_workers=3)


def test_cli_passes_the_backend_and_wrappers_to_the_pool(tmp_path, capsys, monkeypatch, corridor):
    """--backend ray --num-workers N reach the pool, with a picklable factory of the id, its kwargs and the
    wrapper stack (a stand-in pool with local corridors, so Ray and TextWorld stay out of this test)."""
    import json

    from sparsegym import cli
    from sparsegym.agents.text import workers

    made = {}

    class StandIn(LocalEnvPool):
        def __init__(self, make_env, num_envs, num_workers):
            made.update(make_env=make_env, num_envs=num_envs, num_workers=num_workers)
            super().__init__([corridor() for _ in range(num_envs)])

    monkeypatch.setattr(workers, "RayEnvPool", StandIn)
    env = "sparsegym/TextWorld-TreasureHunter-L10-v0"
    stack = '[{"wrapper": "ScoreReward", "scale": 0.1}, "GatedReward"]'
    args = ["train", "grpo", "--env", env, "--group-size", "2", "--env-kwargs", '{"game_seed": 2}', "--out",
            str(tmp_path), "--no-progress", "--num-envs", "2", "--episodes", "2", "--backend", "ray",
            "--num-workers", "2", "--trainer-kwargs", '{"max_episode_steps": 5}', "--env-wrappers", stack]
    assert cli.main(args) == 0
    assert "done: 2 episodes" in capsys.readouterr().out
    assert made["num_envs"] == 2 and made["num_workers"] == 2
    assert made["make_env"] == EnvFactory(env, {"max_episode_steps": 5, "game_seed": 2}, json.loads(stack))
    config = json.loads((tmp_path / "TextWorld-TreasureHunter-L10-v0-grpo-s0" / "run.json").read_text())["config"]
    assert config["backend"] == "ray" and config["num_workers"] == 2 and config["env_wrappers"] == json.loads(stack)
    assert cli.main([*args[:-2], "--env-wrappers", '{"wrapper": "GatedReward"}']) == 2
    assert "--env-wrappers must be a JSON list" in capsys.readouterr().err


def test_missing_ray_names_the_extra(monkeypatch, corridor):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    with pytest.raises(MissingDependencyError, match=r'pip install "sparsegym\[ray\]"'):
        RayEnvPool(EnvFactory(corridor), num_envs=2, num_workers=2)


def test_backend_options_are_checked(corridor):
    with pytest.raises(ConfigError, match=r"backend must be one of \['local', 'ray'\], got 'dask'"):
        TextRLConfig(backend="dask").validate()
    with pytest.raises(ConfigError, match="num_workers must be at least 1, got 0"):
        TextRLConfig(backend="ray", num_workers=0).validate()
    with pytest.raises(ConfigError, match="PPO takes neither"):
        from sparsegym import cli

        cli.cmd_train(cli.build_parser().parse_args(["train", "ppo", "--env", "x", "--backend", "ray"]))


def test_env_factory_makes_wrapped_envs_and_the_local_pool_steps_them(corridor):
    make = EnvFactory(corridor, wrappers=[{"wrapper": "ScoreReward", "key": "room"}])
    env = make()
    assert type(env).__name__ == "ScoreReward" and env.key == "room"
    pool = LocalEnvPool([corridor(), corridor()])
    starts = [obs for obs, _ in pool.reset_many([0, 1])]
    assert starts == [corridor().reset(seed=s)[0] for s in (0, 1)]
    (obs_a, r_a, end_a, *_), (obs_b, r_b, end_b, *_) = pool.step_many([(1, "take coin"), (0, "look")])
    assert obs_a == "There is no coin here. You lose." and (r_a, end_a) == (0.0, True)
    assert obs_b == starts[0].splitlines()[-1] and (r_b, end_b) == (0.0, False)

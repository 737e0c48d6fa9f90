"""Ray rollout workers: the same trajectories and the same training as the local backend, the CLI's
--backend ray, and clear errors. Ray starts once for the module (2 CPUs)."""

import os
import sys

import pytest

torch = pytest.importorskip("torch")

from sparsegym.agents.text import TextRLConfig, TextRLTrainer  # noqa: E402
from sparsegym.agents.text.policy import UniformPolicy  # noqa: E402
from sparsegym.agents.text.rollout import EnvPool, LocalEnvPool, collect, env_instructions  # noqa: E402
from sparsegym.agents.text.workers import EnvFactory, RayEnvPool  # noqa: E402
from sparsegym.errors import ConfigError, MissingDependencyError  # noqa: E402

SMALL = {"buckets": 2**10, "embed_dim": 16, "hidden": 32}


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # as the evaluator's and the trainer's Ray backends do
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


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


def test_ray_pool_collects_the_trajectories_of_local_envs_and_trains_the_same(remote_corridor):
    corridor = remote_corridor
    # 3 envs on 2 actors (envs 0 and 2 on actor 0): 8 episodes in waves of 3, the last wave short.
    pool = RayEnvPool(EnvFactory(lambda: corridor(n=5, starts=3)), num_envs=3, num_workers=2)
    try:
        assert len(pool) == 3 and pool.num_workers == 2 and isinstance(pool, EnvPool)
        assert pool.instructions() == [env_instructions(corridor())] * 3 and corridor.rules in pool.instructions()[0]
        for seed in (0, 1):
            local = collect([corridor(n=5, starts=3) for _ in range(3)], UniformPolicy(), [4, 9], 4,
                            generator=torch.Generator().manual_seed(seed))
            remote = collect(pool, UniformPolicy(), [4, 9], 4, generator=torch.Generator().manual_seed(seed))
            assert _key(remote) == _key(local)
            assert [t.task_seed for t in remote] == [4] * 4 + [9] * 4 and [t.group for t in remote] == [0] * 4 + [1] * 4
            assert sum(t.length for t in remote) > 8  # real episodes, not one-step ones
        assert [env.spec for env in pool] == [None] * 3  # a function's envs have no registered spec
    finally:
        pool.close()
    assert pool.actors == []

    # The trainer: backend="ray" plays and learns exactly what backend="local" does (2 iterations of 8 episodes).
    runs = {}
    for backend in ("local", "ray"):
        cfg = TextRLConfig(group_size=4, groups_per_iteration=2, num_envs=3, policy_kwargs=SMALL, seed=3,
                           backend=backend, num_workers=2)
        trainer = TextRLTrainer(lambda: corridor(n=5, starts=3), config=cfg)
        try:
            history = trainer.learn(16, progress=False)
            if backend == "ray":
                assert isinstance(trainer.envs, RayEnvPool) and trainer.envs.num_workers == 2
        finally:
            trainer.close()
        assert trainer.envs == []
        runs[backend] = (history, {k: v.clone() for k, v in trainer.policy.state_dict().items()})
    (h_local, p_local), (h_ray, p_ray) = runs["local"], runs["ray"]
    assert len(h_local) == len(h_ray) == 2
    for a, b in zip(h_local, h_ray):
        for k in ("batch_return", "batch_success", "episode_length", "policy_loss", "frames"):
            assert a[k] == b[k], k
    assert all(torch.equal(p_local[k], p_ray[k]) for k in p_local)


def test_more_workers_than_the_cluster_has_cpus_is_refused(remote_corridor):
    corridor = remote_corridor
    with pytest.raises(ConfigError, match="3 Ray rollout workers need 3 CPUs and the Ray cluster has 2: lower num_workers"):
        RayEnvPool(EnvFactory(corridor), num_envs=4, num_workers=3)
    pool = RayEnvPool(EnvFactory(corridor), num_envs=1, num_workers=3)  # at most one actor per env
    try:
        assert pool.num_workers == 1 and len(pool.actors) == 1
    finally:
        pool.close()


def test_cli_trains_with_ray_workers(ray_session, tmp_path, capsys):
    pytest.importorskip("textworld")
    import json

    from sparsegym import cli

    env = "sparsegym/TextWorld-TreasureHunter-L10-v0"
    args = ["train", "grpo", "--env", env, "--group-size", "2", "--env-kwargs", '{"game_seed": 2}', "--out",
            str(tmp_path), "--no-progress", "--num-envs", "2", "--episodes", "2", "--backend", "ray",
            "--num-workers", "2", "--trainer-kwargs", '{"max_episode_steps": 5}']
    assert cli.main(args) == 0
    run = tmp_path / "TextWorld-TreasureHunter-L10-v0-grpo-s0"
    config = json.loads((run / "run.json").read_text())["config"]
    assert config["backend"] == "ray" and config["num_workers"] == 2
    assert "done: 2 episodes" in capsys.readouterr().out


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

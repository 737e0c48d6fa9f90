"""The trainer's fast paths compute what the slow ones do: the numpy rollout policy against the torch
forward, the lean vector env against Gymnasium's SyncVectorEnv."""

import gymnasium
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("minigrid")

import sparsegym  # noqa: E402
from sparsegym.agents import PPO, PPOConfig  # noqa: E402
from sparsegym.agents.networks import ActorCritic, NumpyRolloutPolicy  # noqa: E402
from sparsegym.agents.ppo import _to_tensor_obs  # noqa: E402
from sparsegym.agents.vector import LeanSyncVectorEnv, make_lean_vec  # noqa: E402

DOORKEY5 = "sparsegym/MiniGrid-DoorKey-5x5-v0"


def _batch_of_observations(n=6, seed=0):
    envs = make_lean_vec(DOORKEY5, n)
    obs, _ = envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        obs, *_ = envs.step(rng.integers(7, size=n))
    return envs, obs


@pytest.mark.parametrize("intrinsic", [False, True])
def test_numpy_rollout_policy_equals_the_torch_forward(intrinsic):
    envs, obs = _batch_of_observations()
    policy = ActorCritic(envs.single_observation_space, 7, hidden=32, intrinsic=intrinsic, encoder="flat")
    fast = NumpyRolloutPolicy(policy, seed=0)
    action, logprob, value, int_value = fast(obs)
    with torch.no_grad():
        _, t_logprob, _, t_value, t_int, _ = policy(_to_tensor_obs(obs, "cpu"), torch.as_tensor(action))
    np.testing.assert_allclose(logprob, t_logprob.numpy(), atol=1e-5)
    np.testing.assert_allclose(value, t_value.numpy(), atol=1e-5)
    np.testing.assert_allclose(int_value, t_int.numpy(), atol=1e-5)
    assert intrinsic == bool(np.any(int_value))  # no intrinsic head: zeros

    # After the weights change, sync() makes the copy follow them.
    with torch.no_grad():
        policy.critic_ext.bias += 3.0
    assert fast(obs)[2] == pytest.approx(value, abs=1e-5)
    fast.sync()
    assert fast(obs)[2] == pytest.approx(value + 3.0, abs=1e-4)


def test_numpy_rollout_policy_samples_the_policy_distribution():
    envs, obs = _batch_of_observations(n=1)
    policy = ActorCritic(envs.single_observation_space, 7, hidden=32, encoder="flat")
    with torch.no_grad():
        policy.actor.weight.normal_(0.0, 0.3)  # a visibly non-uniform policy
        probs = torch.softmax(policy(_to_tensor_obs(obs, "cpu"))[5], -1).numpy()[0]
    many = {k: np.repeat(v, 40_000, axis=0) for k, v in obs.items()}
    actions = NumpyRolloutPolicy(policy, seed=1)(many)[0]
    freq = np.bincount(actions, minlength=7) / len(actions)
    assert probs.max() / probs.min() > 1.5
    np.testing.assert_allclose(freq, probs, atol=0.01)


def test_numpy_rollout_supports_only_flat_feedforward_policies():
    space = sparsegym.make(DOORKEY5).observation_space
    assert NumpyRolloutPolicy.supports(ActorCritic(space, 7, 16, encoder="flat"))
    assert not NumpyRolloutPolicy.supports(ActorCritic(space, 7, 16))  # MiniGrid CNN
    assert not NumpyRolloutPolicy.supports(ActorCritic(space, 7, 16, encoder="flat", recurrent=True))


def test_ppo_uses_the_numpy_rollout_and_its_logprobs_match_the_update(monkeypatch):
    calls = []
    original = NumpyRolloutPolicy.__call__

    def counting(self, obs):
        calls.append(1)
        return original(self, obs)

    monkeypatch.setattr(NumpyRolloutPolicy, "__call__", counting)
    # One epoch of one minibatch: the update's first ratio compares the torch policy with the
    # log-probabilities recorded in the rollout, before any step; they must be the same policy.
    agent = PPO(DOORKEY5, PPOConfig(encoder="flat", hidden=32, num_envs=4, num_steps=32, update_epochs=1,
                                    num_minibatches=1, device="cpu"))
    stats = agent.learn(128, progress=False)[0]
    assert len(calls) == 32
    assert abs(stats["approx_kl"]) < 1e-6 and stats["clipfrac"] == 0.0

    calls.clear()
    agent = PPO(DOORKEY5, PPOConfig(encoder="flat", hidden=32, num_envs=4, num_steps=32, numpy_rollout=False,
                                    device="cpu"))
    agent.learn(128, progress=False)
    assert calls == []


@pytest.mark.parametrize("env_id", [DOORKEY5, "sparsegym/DynLinBandit-v0"])
def test_lean_vector_env_steps_exactly_like_gymnasium_sync(env_id):
    kwargs = {"max_steps": 20} if "MiniGrid" in env_id else {"horizon": 25}
    n = 4
    lean = make_lean_vec(env_id, n, **kwargs)
    sync = gymnasium.make_vec(env_id, num_envs=n, vectorization_mode="sync",
                              vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP}, **kwargs)
    assert lean.observation_space == sync.observation_space and lean.action_space == sync.action_space
    a, _ = lean.reset(seed=3)
    b, _ = sync.reset(seed=3)
    rng = np.random.default_rng(0)
    ends = 0
    for t in range(300):
        actions = np.asarray(sync.action_space.sample()) if not isinstance(
            sync.single_action_space, gymnasium.spaces.Discrete) else rng.integers(sync.single_action_space.n, size=n)
        la, sa = lean.step(actions), sync.step(actions)
        for key in (sa[0] if isinstance(sa[0], dict) else [None]):
            x = la[0][key] if key else la[0]
            y = sa[0][key] if key else sa[0]
            np.testing.assert_array_equal(x, y, err_msg=f"step {t} {key}")
            assert x.dtype == y.dtype
        for x, y in zip(la[1:4], sa[1:4]):
            np.testing.assert_array_equal(x, y)
            assert x.dtype == y.dtype
        if "success" in sa[4]:
            np.testing.assert_array_equal(la[4]["success"], sa[4]["success"])
        assert ("final_obs" in la[4]) == ("final_obs" in sa[4])
        if "final_obs" in sa[4]:
            ends += 1
            ended = sa[4]["_final_obs"]
            np.testing.assert_array_equal(la[4]["_final_obs"], ended)
            if "success" in sa[4]["final_info"]:
                np.testing.assert_array_equal(la[4]["final_info"]["success"][ended], sa[4]["final_info"]["success"][ended])
            for i in np.flatnonzero(ended):
                x, y = la[4]["final_obs"][i], sa[4]["final_obs"][i]
                for key in (y if isinstance(y, dict) else [None]):
                    np.testing.assert_array_equal(x[key] if key else x, y[key] if key else y)
    assert ends > 0
    lean.close()


def test_lean_vector_env_rejects_mismatched_envs_and_seed_lists():
    with pytest.raises(ValueError, match="at least one env"):
        LeanSyncVectorEnv([])
    with pytest.raises(ValueError, match="different spaces"):
        LeanSyncVectorEnv([lambda: sparsegym.make(DOORKEY5), lambda: sparsegym.make("sparsegym/MiniGrid-FourRooms-v0",
                                                                                        agent_view_size=5)])
    envs = make_lean_vec(DOORKEY5, 2)
    with pytest.raises(ValueError, match="2 envs"):
        envs.reset(seed=[1, 2, 3])


@pytest.mark.parametrize("module,cut", [("e3b", True), ("rnd", False)])
def test_intrinsic_returns_end_with_the_episode_only_for_modules_that_ask(monkeypatch, module, cut):
    import sparsegym.agents.ppo as ppo_module

    calls = []
    real = ppo_module.gae

    def recording(rewards, values, dones, *rest):
        calls.append(np.array(dones))
        return real(rewards, values, dones, *rest)

    monkeypatch.setattr(ppo_module, "gae", recording)
    agent = PPO(DOORKEY5, PPOConfig(encoder="flat", hidden=16, num_envs=2, num_steps=32, intrinsic=module,
                                    intrinsic_recipe="two_heads", intrinsic_obs_init_rollouts=0,
                                    device="cpu", env_kwargs={"max_steps": 5}))
    agent.learn(64, progress=False)
    extrinsic, intrinsic = calls
    assert extrinsic.any()  # episodes of 5 steps end inside a 32-step rollout
    if cut:
        np.testing.assert_array_equal(intrinsic, extrinsic)
    else:
        assert not intrinsic.any()

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("minigrid")

import sparsegym  # noqa: E402
from sparsegym.agents import PPO, PPOConfig, gae  # noqa: E402
from sparsegym.agents.advantages import discounted_returns  # noqa: E402
from sparsegym.agents.ppo import ppo_policy_loss, ppo_value_loss  # noqa: E402

DOORKEY5 = "sparsegym/MiniGrid-DoorKey-5x5-v0"


def test_gae_against_hand_computed_values():
    # One env, three steps, an episode boundary before step 2 (dones[2] = 1: obs[2] starts an episode).
    r = np.array([[1.0], [0.0], [2.0]])
    v = np.array([[0.5], [0.2], [0.1]])
    d = np.array([[0.0], [0.0], [1.0]])
    gamma, lam = 0.9, 0.8
    last_v, last_d = np.array([0.3]), np.array([0.0])
    adv, ret = gae(r, v, d, last_v, last_d, gamma, lam)
    d2 = 2.0 + 0.9 * 0.3 - 0.1
    a2 = d2
    d1 = 0.0 + 0.0 - 0.2  # step 1 ends the episode: no bootstrap from obs[2]
    a1 = d1
    d0 = 1.0 + 0.9 * 0.2 - 0.5
    a0 = d0 + 0.9 * 0.8 * a1
    assert adv[:, 0].tolist() == pytest.approx([a0, a1, a2])
    assert ret[:, 0].tolist() == pytest.approx([a0 + 0.5, a1 + 0.2, a2 + 0.1])
    t_adv, _ = gae(*(torch.as_tensor(x) for x in (r, v, d, last_v, last_d)), gamma, lam)
    assert t_adv.numpy() == pytest.approx(adv)


def test_gae_with_lambda_one_is_the_discounted_return_minus_value():
    rng = np.random.default_rng(0)
    r = rng.random((6, 1))
    v = rng.random((6, 1))
    adv, _ = gae(r, v, np.zeros((6, 1)), np.zeros(1), np.ones(1), 0.95, 1.0)
    assert adv[:, 0] == pytest.approx(discounted_returns(r[:, 0], 0.95) - v[:, 0])


def test_ppo_losses_hand_computed():
    adv = torch.tensor([1.0, -1.0])
    ratio = torch.tensor([1.5, 0.5])
    # clip 0.2: sample 0 -> max(-1.5, -1.2) = -1.2; sample 1 -> max(0.5, 0.8) = 0.8; mean -0.2
    assert ppo_policy_loss(adv, ratio, 0.2).item() == pytest.approx(-0.2)
    new, old, ret = torch.tensor([1.0]), torch.tensor([0.0]), torch.tensor([0.5])
    assert ppo_value_loss(new, old, ret, None).item() == pytest.approx(0.5 * 0.25)
    # clipped value 0.2: (0.2 - 0.5)^2 = 0.09 vs unclipped 0.25: max -> 0.25
    assert ppo_value_loss(new, old, ret, 0.2).item() == pytest.approx(0.5 * 0.25)


def test_intrinsic_and_extrinsic_value_heads_are_separate():
    agent = PPO(DOORKEY5, PPOConfig(intrinsic="rnd", device="cpu", num_envs=2, num_steps=16))
    assert agent.policy.critic_int is not None
    assert agent.policy.critic_int is not agent.policy.critic_ext
    ext = agent.policy.critic_ext.weight.detach().clone()
    history = agent.learn(64, progress=False)
    assert "rnd_loss" in history[-1] and history[-1]["intrinsic_reward"] >= 0
    assert not torch.equal(ext, agent.policy.critic_ext.weight)  # both heads trained...
    plain = PPO(DOORKEY5, PPOConfig(device="cpu"))
    assert plain.policy.critic_int is None  # ...and without an intrinsic reward there is only one


def test_save_load_round_trip_gives_identical_actions(tmp_path):
    agent = PPO(DOORKEY5, PPOConfig(device="cpu", num_envs=2, num_steps=32, seed=3))
    agent.learn(128, progress=False)
    agent.save(tmp_path / "run")
    loaded = PPO.load(tmp_path / "run")
    env = sparsegym.make(DOORKEY5)
    obs, info = env.reset(seed=5)
    agent.reset(7)
    loaded.reset(7)
    for _ in range(30):
        a, b = agent.act(obs, info), loaded.act(obs, info)
        assert a == b
        assert agent.act(obs, info, deterministic=True) == loaded.act(obs, info, deterministic=True)
        obs, *_, info = env.step(a)
    assert loaded.global_step == agent.global_step == 128


def test_device_is_honoured():
    agent = PPO(DOORKEY5, device="cpu")
    assert next(agent.policy.parameters()).device.type == "cpu"
    with pytest.raises(ValueError, match="unknown PPO option 'lr'"):
        PPO(DOORKEY5, lr=1e-3)


def test_ppo_learns_doorkey_5x5():
    agent = PPO(DOORKEY5, PPOConfig(seed=1, device="cpu"))
    agent.learn(100_000, progress=False)
    env = sparsegym.make(DOORKEY5)
    wins = 0
    for seed in range(1000, 1020):  # seeds never trained on
        agent.reset(seed)
        obs, info = env.reset(seed=seed)
        while True:
            obs, _, term, trunc, info = env.step(agent.act(obs, info))
            if term or trunc:
                break
        wins += info["success"]
    assert wins >= 18


def test_log_dir_gets_a_csv_and_checkpoints(tmp_path):
    agent = PPO(DOORKEY5, PPOConfig(device="cpu", num_envs=2, num_steps=32))
    history = agent.learn(256, progress=False, log_dir=tmp_path, checkpoint_every=128)
    lines = (tmp_path / "progress.csv").read_text().splitlines()
    assert len(lines) == 1 + len(history) == 5 and lines[0].startswith("policy_loss,")
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["128", "256"]
    assert PPO.load(tmp_path / "checkpoints" / "128").global_step == 128


def test_recurrent_core_trains_saves_and_acts(tmp_path):
    agent = PPO("sparsegym/MiniGrid-MemoryS7-v0", PPOConfig(recurrent=True, device="cpu", num_envs=4, num_steps=32))
    assert agent.policy.lstm is not None
    history = agent.learn(256, progress=False)
    assert np.isfinite(history[-1]["policy_loss"])
    agent.save(tmp_path / "rnn")
    loaded = PPO.load(tmp_path / "rnn")
    env = sparsegym.make("sparsegym/MiniGrid-MemoryS7-v0")
    obs, info = env.reset(seed=2)
    agent.reset(4)
    loaded.reset(4)
    for _ in range(10):  # the same actions from the same memory
        a = agent.act(obs, info)
        assert a == loaded.act(obs, info)
        obs, *_, info = env.step(a)
    with pytest.raises(ValueError, match="num_envs \\(2\\) must be at least num_minibatches \\(4\\)"):
        PPO(DOORKEY5, PPOConfig(recurrent=True, num_envs=2, device="cpu"))


def test_sequence_forward_clears_state_at_episode_starts():
    from sparsegym.agents.networks import ActorCritic

    policy = ActorCritic(sparsegym.make(DOORKEY5).observation_space, 7, hidden=16, recurrent=True)
    env = sparsegym.make(DOORKEY5)
    obs, _ = env.reset(seed=0)
    batch = {k: torch.as_tensor(np.stack([v, v, v])) for k, v in obs.items()}  # T=3 steps of one env
    state = policy.initial_state(1, "cpu")
    with torch.no_grad():
        (_, _, _, v_all, _, _), _ = policy.forward_sequence(batch, state, torch.tensor([[0.0], [0.0], [1.0]]))
        (_, _, _, v_one, _, _), _ = policy.forward_sequence({k: t[:1] for k, t in batch.items()}, state,
                                                            torch.tensor([[0.0]]))
    # step 2 starts a new episode: from a cleared state it sees what step 0 saw
    assert v_all[2].item() == pytest.approx(v_one[0].item(), abs=1e-6)
    assert v_all[1].item() != pytest.approx(v_one[0].item(), abs=1e-6)


def test_intrinsic_modules_can_embed_observations_with_the_family_encoder():
    from sparsegym.envs.minigrid.encoder import MiniGridEncoder
    from sparsegym.errors import ConfigError

    agent = PPO("sparsegym/MiniGrid-DoorKey-5x5-v0",
                PPOConfig(intrinsic="rnd", intrinsic_encoder="family", num_envs=2, num_steps=16, seed=0))
    assert agent.intrinsic.has_encoder
    assert any(isinstance(m, MiniGridEncoder) for m in agent.intrinsic.predictor.modules())
    agent.learn(64)
    with pytest.raises(ConfigError, match="intrinsic_encoder must be 'flat' or 'family'"):
        PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", PPOConfig(intrinsic="rnd", intrinsic_encoder="cnn", num_envs=1))
    with pytest.raises(ConfigError, match="no family encoder accepts"):
        PPO("sparsegym/DynLinBandit-Rho03-v0", PPOConfig(intrinsic="rnd", intrinsic_encoder="family", num_envs=1))

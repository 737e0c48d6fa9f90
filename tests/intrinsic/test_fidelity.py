"""What the papers and their authors' code define, checked against hand-computed values: NovelD's L2
novelty and clip, the first-visit indicator, RND's scaled predictor share, the per-step std normaliser,
E3B's and the combination's recipes, state keys through the stream, and the seed pool."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparsegym.intrinsic import (  # noqa: E402
    E3B,
    RND,
    EpisodicCount,
    GlobalEpisodic,
    IntrinsicStream,
    NovelD,
    make_intrinsic,
)
from sparsegym.intrinsic.counts import count_bonus  # noqa: E402
from sparsegym.intrinsic.noveld import noveld_bonus  # noqa: E402
from sparsegym.intrinsic.stream import StepNormalizer  # noqa: E402

D, A = 6, 3


def test_noveld_formula_by_hand():
    # max(N(s') - 0.5 N(s), 0) * 1[first visit]
    got = noveld_bonus(np.array([3.0, 1.0, 3.0]), np.array([2.0, 4.0, 2.0]), np.array([1, 1, 0]), 0.5)
    np.testing.assert_allclose(got, [2.0, 0.0, 0.0])


def test_noveld_novelty_is_the_l2_norm_of_the_embedding_error():
    module = NovelD(D, device="cpu", seed=3)
    rng = np.random.default_rng(0)
    s, s2 = rng.normal(size=(1, D)).astype(np.float32), rng.normal(size=(1, D)).astype(np.float32)
    with torch.no_grad():
        err = lambda x: (module.rnd.predictor(module.rnd.normalize(x)) - module.rnd.target(module.rnd.normalize(x)))[0]  # noqa: E731
        n_s, n_s2 = (float(torch.sqrt((err(x) ** 2).sum())) for x in (s, s2))
    bonus = module.compute({"obs": s, "next_obs": s2, "env_ids": np.array([0])})[0]
    assert bonus == pytest.approx(max(n_s2 - 0.5 * n_s, 0.0), rel=1e-5)
    # the earlier novelty, kept under its name: the mean squared error
    mse = NovelD(D, device="cpu", seed=3, novelty="mse")
    with torch.no_grad():
        m_s, m_s2 = ((err(x) ** 2).mean().item() for x in (s, s2))
    assert mse.compute({"obs": s, "next_obs": s2, "env_ids": np.array([0])})[0] == pytest.approx(
        max(m_s2 - 0.5 * m_s, 0.0), rel=1e-5)


def test_alpha_on_squares_acts_like_0_71_on_norms():
    # e' - 0.5 e = 0 in squared errors  <=>  sqrt(e') = sqrt(0.5) sqrt(e) in norms
    e = 4.0
    e_next = 0.5 * e
    assert np.sqrt(e_next) / np.sqrt(e) == pytest.approx(np.sqrt(0.5)) == pytest.approx(0.7071, rel=1e-4)


def test_noveld_is_not_normalised_and_keeps_the_old_option():
    assert NovelD(D, device="cpu").normalization == "none"
    assert IntrinsicStream(NovelD(D, device="cpu"), 1).normalizer is None
    old = NovelD(D, device="cpu", normalise="return_std", novelty="mse")
    assert old.normalization == "return" and old.normalize_returns
    with pytest.raises(ValueError, match="novelty must be"):
        NovelD(D, device="cpu", novelty="l1")


def test_noveld_gate_keys_the_given_state_keys_and_counts_the_start():
    module = NovelD(D, device="cpu")
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(1, D)).astype(np.float32)
    nxt = rng.normal(size=(1, D)).astype(np.float32) + 3
    step = lambda key, start=None: module.compute({"obs": obs, "next_obs": nxt, "env_ids": np.array([0]),  # noqa: E731
                                                   "keys": [key], **({"obs_keys": [start]} if start else {})})[0]
    assert step("b", start="a") > 0  # the same observation, but a new full state
    assert step("c") > 0
    assert step("b") == 0.0  # seen in this episode
    assert step("a") == 0.0  # the start state counts as visited


def test_first_visit_indicator_by_hand():
    np.testing.assert_array_equal(count_bonus([1, 2, 1, 5], "first_visit"), [1, 0, 1, 0])
    np.testing.assert_allclose(count_bonus([1, 4], "inverse_sqrt"), [1, 0.5])
    counts = EpisodicCount(D, bonus="first_visit")
    x = {"next_obs": np.ones((1, D), np.float32), "env_ids": np.array([0])}
    assert [counts.compute(x)[0] for _ in range(3)] == [1.0, 0.0, 0.0]
    counts.reset([0])
    assert counts.compute(x)[0] == 1.0


def test_counts_read_state_keys():
    counts = EpisodicCount(D, episodic=False)  # global 1/sqrt(N)
    x = lambda k, env: {"next_obs": np.zeros((1, D), np.float32), "env_ids": np.array([env]), "keys": [k]}  # noqa: E731
    got = [counts.compute(x("p", 0))[0], counts.compute(x("p", 1))[0], counts.compute(x("q", 0))[0]]
    np.testing.assert_allclose(got, [1.0, 1 / np.sqrt(2), 1.0])
    counts.reset([0, 1])  # global counts persist across episodes
    assert counts.compute(x("p", 0))[0] == pytest.approx(1 / np.sqrt(3))


def test_global_x_episodic_counts_product_by_hand():
    combo = make_intrinsic("global_x_episodic_counts", D, A)
    x = lambda k: {"next_obs": np.zeros((1, D), np.float32), "env_ids": np.array([0]), "keys": [k]}  # noqa: E731
    got = [combo.compute(x(k))[0] for k in ("p", "p", "q")]
    np.testing.assert_allclose(got, [1.0, 0.0, 1.0])  # 1/sqrt(1)*1, 1/sqrt(2)*0, 1/sqrt(1)*1
    combo.reset([0])
    assert combo.compute(x("p"))[0] == pytest.approx(1 / np.sqrt(3))  # first visit this episode, third overall
    assert combo.normalization == "step" and combo.episodic_returns and combo.recipe == "one_head"


def test_per_step_std_normaliser_by_hand():
    norm = StepNormalizer()
    first = norm(np.array([2.0, 4.0]))
    second = norm(np.array([6.0]))
    seen = np.array([2.0, 4.0, 6.0])
    c = 1e-4 + 3
    mean = seen.sum() / c
    var = (((seen - mean) ** 2).sum() + 1e-4 * mean ** 2) / c
    assert second[0] == pytest.approx(6.0 / np.sqrt(var), rel=1e-6)
    assert first.shape == (2,)


def test_e3b_divides_by_the_per_step_std_and_keeps_the_return_std_option():
    e3b = E3B(D, A, device="cpu")
    assert IntrinsicStream(e3b, 2).normalization == "step"
    old = E3B(D, A, device="cpu", normalise="return_std")
    assert IntrinsicStream(old, 2).normalization == "return" and old.normalize_returns
    with pytest.raises(ValueError, match="normalise must be"):
        E3B(D, A, device="cpu", normalise="max")


def test_e3b_returns_stay_episodic_inside_the_combination():
    combo = make_intrinsic("rnd_x_e3b", D, A, device="cpu")
    assert isinstance(combo, GlobalEpisodic) and combo.episodic_returns
    assert IntrinsicStream(combo, 2).normalization == "step"
    old = GlobalEpisodic(RND(D, device="cpu"), E3B(D, A, device="cpu"), normalise="return_std")
    assert IntrinsicStream(old, 2).normalization == "return"


@pytest.mark.parametrize("num_envs,expected", [(1, 1.0), (16, 1.0), (32, 1.0), (64, 0.5), (128, 0.25), (256, 0.125)])
def test_rnd_update_proportion_scales_with_the_number_of_envs(num_envs, expected):
    assert RND.scaled_update_proportion(num_envs) == pytest.approx(expected)
    rnd = RND(D, device="cpu")
    IntrinsicStream(rnd, num_envs)  # the stream tells the module how many envs feed it
    assert rnd.update_proportion == pytest.approx(expected)
    fixed = RND(D, device="cpu", update_proportion=0.25)  # the earlier default, kept when given
    fixed.bind_envs(num_envs)
    assert fixed.update_proportion == 0.25


def test_rnd_observation_statistics_start_from_given_observations():
    rnd = RND(D, device="cpu")
    obs = np.random.default_rng(0).normal(loc=3.0, scale=2.0, size=(4000, D)).astype(np.float32)
    rnd.init_obs_stats(obs)
    np.testing.assert_allclose(rnd.obs_rms.mean, obs.mean(0), atol=1e-2)
    np.testing.assert_allclose(rnd.obs_rms.std, obs.std(0), rtol=1e-2)


def test_stream_passes_state_keys_and_same_step_final_keys():
    seen = []

    class Spy:
        episodic_returns, normalization = False, "none"

        def compute(self, batch):
            seen.append((list(batch.get("obs_keys", [])), list(batch.get("keys", []))))
            return np.zeros(len(batch["next_obs"]))

        def update(self, batch):
            return {}

        def reset(self, env_ids):
            pass

    s = IntrinsicStream(Spy(), 2, autoreset_mode="same_step", normalize=False, update_every=0)
    s.reset(np.zeros((2, 1)), infos={"state_key": [10, 20]})
    f = np.array([False, False])
    s.step([0, 0], np.ones((2, 1)), f, f, {"state_key": [11, 21]})
    done = np.array([False, True])
    s.step([0, 0], np.ones((2, 1)), done, f, {"state_key": [12, 20], "final_obs": [None, np.ones(1)],
                                              "final_info": {"state_key": [None, 22]}})
    assert seen == [([10, 20], [11, 21]), ([11, 21], [12, 22])]


def test_seed_pool_is_deterministic_and_draws_from_k_contexts():
    import sparsegym
    from sparsegym.wrappers import SeedPool

    def contexts(seed, k, n=30):
        env = SeedPool(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"), k=k)
        out = [env.reset(seed=seed)[1]["context"]] + [env.reset()[1]["context"] for _ in range(n - 1)]
        env.close()
        return out

    a, b = contexts(0, 3), contexts(0, 3)
    assert a == b and set(a) == {0, 1, 2}
    assert contexts(1, 3) != a  # another copy draws another sequence from the same pool
    assert set(contexts(5, 1, n=5)) == {0}
    # the same context gives the same start
    env = SeedPool(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"), k=1)
    o1, _ = env.reset(seed=0)
    o2, _ = env.reset()
    np.testing.assert_array_equal(np.asarray(o1["image"]), np.asarray(o2["image"]))
    with pytest.raises(ValueError, match="at least one seed"):
        SeedPool(env, k=0)


def test_state_key_info_writes_a_stable_key():
    import sparsegym
    from sparsegym.wrappers import StateKeyInfo
    from sparsegym.wrappers.contexts import stable_key

    env = StateKeyInfo(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"), "position")
    _, info = env.reset(seed=0)
    core = env.unwrapped
    core = getattr(core, "core", core)
    assert info["state_key"] == stable_key((int(core.agent_pos[0]), int(core.agent_pos[1]), int(core.agent_dir)))
    assert stable_key(b"abc") == stable_key(b"abc") and stable_key((1, 2)) != stable_key((2, 1))


def test_ppo_e3b_runs_the_authors_one_head_recipe(monkeypatch):
    import sparsegym.agents.ppo as ppo_module
    from sparsegym.agents import PPO, PPOConfig

    calls = []
    real = ppo_module.gae

    def recording(rewards, values, dones, *rest):
        calls.append((np.array(rewards), np.array(dones)))
        return real(rewards, values, dones, *rest)

    monkeypatch.setattr(ppo_module, "gae", recording)
    agent = PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", PPOConfig(
        encoder="flat", hidden=16, num_envs=2, num_steps=16, intrinsic="e3b", int_coef=5.0, device="cpu",
        env_kwargs={"max_steps": 5}))
    assert agent.intrinsic_recipe == "one_head"
    assert agent.intrinsic.has_encoder  # "auto": the family's encoder, as the authors embed observations
    seen = []
    original = agent._advantages

    def spy(buf, *rest):
        seen.append((buf.rewards.copy(), buf.int_rewards.copy()))
        return original(buf, *rest)

    monkeypatch.setattr(agent, "_advantages", spy)
    agent.learn(32, progress=False)
    assert len(calls) == 1  # one return, of r + int_coef * r_int clipped to [-1, 1], cut at episode ends
    rewards, dones = calls[0]
    ext, intr = seen[0]
    total = ext + 5.0 * intr
    assert (total > 1).any() and (total < 1).any()  # some steps are clipped, some are not
    np.testing.assert_allclose(rewards, np.clip(total, -1, 1))
    assert dones.any()
    calls.clear()
    unclipped = PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", PPOConfig(
        encoder="flat", hidden=16, num_envs=2, num_steps=16, intrinsic="e3b", int_coef=5.0, one_head_clip=None,
        device="cpu", env_kwargs={"max_steps": 5}))
    seen.clear()
    monkeypatch.setattr(unclipped, "_advantages", lambda buf, *rest: (seen.append(buf.int_rewards.copy()),
                                                                       type(unclipped)._advantages(unclipped, buf, *rest))[1])
    unclipped.learn(32, progress=False)
    # DoorKey-5x5 cannot be won in 5 steps: the extrinsic reward is 0 and the return is of 5 * r_int, unclipped
    np.testing.assert_allclose(calls[0][0], 5.0 * seen[0])
    assert calls[0][0].max() > 1
    two = PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", PPOConfig(encoder="flat", hidden=16, num_envs=2, num_steps=16,
                                                              intrinsic="e3b", intrinsic_recipe="two_heads",
                                                              intrinsic_encoder="flat", device="cpu"))
    assert two.intrinsic_recipe == "two_heads" and not two.intrinsic.has_encoder


def test_ppo_contexts_and_state_keys_reach_the_module():
    from sparsegym.agents import PPO, PPOConfig

    agent = PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", PPOConfig(
        encoder="flat", hidden=16, num_envs=2, num_steps=8, intrinsic="episodic_counts", intrinsic_key="position",
        num_contexts=1, device="cpu"))
    seen = []
    compute = agent.intrinsic.compute

    def spy(batch):
        seen.append(list(batch["keys"]))
        return compute(batch)

    agent.intrinsic.compute = spy
    agent.learn(16, progress=False)
    assert seen and all(isinstance(k, int) for row in seen for k in row)
    envs = agent._make_vec()
    _, infos = envs.reset(seed=[0, 1])
    assert infos["state_key"][0] == infos["state_key"][1]  # one context: both copies start alike
    envs.close()


def test_ppo_rnd_starts_observation_statistics_from_a_random_agent():
    from sparsegym.agents import PPO, PPOConfig

    agent = PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", PPOConfig(
        encoder="flat", hidden=16, num_envs=2, num_steps=8, intrinsic="rnd", intrinsic_obs_init_rollouts=3,
        device="cpu"))
    before = agent.intrinsic.obs_rms.count
    agent.learn(16, progress=False)
    # 3 rollouts x 8 steps x 2 envs of random observations, then one training rollout (16 transitions)
    assert agent.intrinsic.obs_rms.count == pytest.approx(before + 3 * 8 * 2 + 16, abs=1)
    assert agent.intrinsic.update_proportion == 1.0  # 2 envs: all of the batch (min(1, 32 / 2))


def test_ppo_noveld_gate_keys_the_full_state_by_default():
    from sparsegym.agents import PPO, PPOConfig

    agent = PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", PPOConfig(encoder="flat", hidden=16, num_envs=2, num_steps=8,
                                                                intrinsic="noveld", device="cpu"))
    assert agent.intrinsic_key == "full"
    assert PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", PPOConfig(encoder="flat", hidden=16, num_envs=2, num_steps=8,
                                                               intrinsic="rnd", device="cpu")).intrinsic_key is None
    envs = agent._make_vec()
    _, infos = envs.reset(seed=[0, 1])
    assert "state_key" in infos
    envs.close()


def test_ppo_passes_intrinsic_kwargs_to_its_module_and_names_a_misfit():
    from sparsegym.agents import PPO, PPOConfig
    from sparsegym.errors import ConfigError

    small = {"encoder": "flat", "hidden": 16, "num_envs": 2, "num_steps": 16, "device": "cpu", "intrinsic": "e3b"}
    agent = PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", PPOConfig(**small, intrinsic_kwargs={"normalise": "return_std"}))
    assert agent.intrinsic.normalise == "return_std" and agent.intrinsic.normalization == "return"
    assert PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", PPOConfig(**small)).intrinsic.normalise == "step_std"
    with pytest.raises(ConfigError, match=r"intrinsic_kwargs \{'normalize': 'x'\} do not fit the 'e3b' module"):
        PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", PPOConfig(**small, intrinsic_kwargs={"normalize": "x"}))

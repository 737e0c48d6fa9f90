"""External RL code runs on sparsegym ids as they are: stable-baselines3's checker and PPO."""

import numpy as np
import pytest

pytest.importorskip("minigrid")
sb3 = pytest.importorskip("stable_baselines3")

import gymnasium  # noqa: E402

import sparsegym  # noqa: E402


@pytest.mark.parametrize("env_id", ["sparsegym/MiniGrid-DoorKey-5x5-v0", "sparsegym/BabyAI-GoToLocal-v0",
                                    "sparsegym/MiniGrid-FourRooms-NoisyTV-v0"])
def test_sb3_env_checker_accepts(env_id):
    from stable_baselines3.common.env_checker import check_env

    with _no_sb3_warnings():
        check_env(sparsegym.make(env_id).unwrapped, warn=True)


class _no_sb3_warnings:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings(record=True)
        self.caught = self._ctx.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        # SB3 notes that the 7x7 code grid looks like a picture but is not a 0-255 one (so it will be
        # flattened, not sent to its Atari CNN, which needs 36x36): that is the contract's intent
        # (see sparsegym/envs/minigrid/env.py), and PPO below runs on it as it is.
        expected = ("upper and lower bounds are not in [0, 255]", "minimal resolution for an image is 36x36")
        relevant = [
            str(w.message) for w in self.caught
            if not issubclass(w.category, DeprecationWarning) and not any(e in str(w.message) for e in expected)
        ]
        assert not relevant, relevant
        return False


def test_sb3_ppo_trains_and_predicts_on_a_sparsegym_id():
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(lambda: gymnasium.make("sparsegym/MiniGrid-DoorKey-5x5-v0"), n_envs=2, seed=0)
    model = PPO("MultiInputPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    obs = venv.reset()
    actions, _ = model.predict(obs, deterministic=True)
    assert actions.shape == (2,) and np.all((0 <= actions) & (actions < 7))

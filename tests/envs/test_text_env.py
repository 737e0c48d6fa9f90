"""The text-env contract (sparsegym.envs.text_env), on a tiny guessing game defined here."""

from __future__ import annotations

import pytest
from gymnasium.utils.env_checker import check_env

from sparsegym.envs.text_env import TEXT_CHARSET, TextEnv, as_text_action, clip_text, to_charset
from sparsegym.errors import InvalidActionError


class Guess(TextEnv):
    """Guess a digit 0-4 drawn from the env's RNG; three tries."""

    def _reset(self, options):
        self.secret = int(self.np_random.integers(5))
        self.tries = 0
        return "Guess a digit from 0 to 4. Café.", {"admissible_actions": [f"guess {i}" for i in range(5)]}

    def _step(self, action):
        self.tries += 1
        acts = [f"guess {i}" for i in range(5)]
        if action not in acts:
            msg = f"Unknown command {action!r}; use one of: {', '.join(acts)}."
            return msg, 0.0, False, self.tries >= 3, {"admissible_actions": acts, "action_error": msg}
        won = action == f"guess {self.secret}"
        done = won or self.tries >= 3
        text = "Right!" if won else "Wrong."
        return text, float(won), won, done and not won, {"admissible_actions": acts, "success": won}


def test_contract_keys_and_spaces():
    env = Guess()
    obs, info = env.reset(seed=3)
    assert obs == "Guess a digit from 0 to 4. Cafe."
    assert obs in env.observation_space
    assert info["success"] is False and info["action_error"] is None
    assert info["reward_components"] == {"extrinsic": 0.0}
    obs, r, term, trunc, info = env.step(f"  guess   {env.secret} ")
    assert (r, term, trunc, info["success"]) == (1.0, True, False, True)
    assert info["reward_components"] == {"extrinsic": 1.0}


def test_unparseable_command_is_feedback_not_an_exception():
    env = Guess()
    env.reset(seed=0)
    obs, r, term, trunc, info = env.step("dance")
    assert "Unknown command 'dance'" in obs and info["action_error"] == obs and r == 0.0
    assert info["invalid_actions"] == 1
    obs, r, term, trunc, info = env.step("sing")
    assert info["invalid_actions"] == 2
    assert env.reset(seed=0)[1]["invalid_actions"] == 0
    obs, r, term, trunc, info = env.step("guess 0")
    assert info["action_error"] is None and info["invalid_actions"] == 0


def test_strict_actions_raise_with_the_games_message():
    env = Guess(strict_actions=True)
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"Unknown command 'dance'; use one of: guess 0.*\(action 'dance'\)"):
        env.step("dance")
    obs, r, term, trunc, info = env.step("guess 1")  # valid commands play as usual
    assert info["action_error"] is None


def test_non_string_action_raises_with_fix():
    env = Guess()
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match="string actions"):
        env.step(3)


def test_check_env_passes_and_seeding_is_deterministic():
    check_env(Guess(), skip_render_check=True)
    a, b = Guess(), Guess()
    a.reset(seed=11)
    b.reset(seed=11)
    assert a.secret == b.secret


def test_helpers():
    assert all(c in TEXT_CHARSET for c in to_charset("naïve ☃ über\n"))
    long = "x" * 1000
    cut = clip_text(long, 100)
    assert len(cut) <= 100 and cut.endswith("more characters cut]")
    assert clip_text("short", 100) == "short"
    assert as_text_action(b"go  north") == "go north"

"""`sparsegym train ... --policy causal-lm`: a transformers causal LM (the tests' tiny one, saved to a folder)
trains through the same CLI and run folder as the scorer, resumes, and plays on a leaderboard."""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("textworld")

from sparsegym import cli  # noqa: E402
from sparsegym.agents.text import CausalLMPolicy, TextPolicy, tiny_causal_lm  # noqa: E402
from sparsegym.leaderboards import ResultsStore, Suite, evaluate  # noqa: E402

ENV = "sparsegym/TextWorld-TreasureHunter-L10-v0"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-lm")
    model, tokenizer = tiny_causal_lm(seed=0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_train_a_causal_lm_policy_resume_and_evaluate(tiny_model, tmp_path, capsys):
    args = ["train", "rloo", "--env", ENV, "--env-kwargs", '{"game_seed": 2}', "--policy", "causal-lm",
            "--model", str(tiny_model), "--policy-kwargs", '{"history_window": 2}', "--group-size", "2",
            "--num-envs", "2", "--out", str(tmp_path), "--no-progress"]
    assert cli.main([*args, "--episodes", "2"]) == 0
    run = tmp_path / "TextWorld-TreasureHunter-L10-v0-rloo-s0"
    config = json.loads((run / "run.json").read_text())
    assert config["policy"] == "CausalLMPolicy" and config["config"]["learning_rate"] == 1e-5
    policy = TextPolicy.load(run / "policy")
    assert isinstance(policy, CausalLMPolicy) and policy.history_window == 2
    assert cli.main([*args, "--episodes", "4", "--resume"]) == 0
    assert "resuming rloo from" in capsys.readouterr().out
    assert json.loads((run / "trainer.json").read_text())["global_step"] == 4

    suite = Suite("t", (ENV,), episodes=1, description="t", step_timeout=None)
    with ResultsStore(tmp_path / "r.db") as store:
        result = evaluate("sparsegym.agents:load_text_agent", suite, "dev", agent_kwargs={"path": str(run)},
                          store=store, progress=False)
        assert result.ran == 1 and result.failed == 0


def test_model_without_causal_lm_is_refused(tmp_path, capsys):
    assert cli.main(["train", "grpo", "--env", ENV, "--model", "x.gguf", "--out", str(tmp_path)]) == 2
    assert "--policy causal-lm" in capsys.readouterr().err


def test_hiper_builds_its_policy_on_the_model(tiny_model, tmp_path, capsys):
    base = ["train", "hiper", "--env", ENV, "--env-kwargs", '{"game_seed": 2}', "--group-size", "2",
            "--num-envs", "2", "--episodes", "2", "--out", str(tmp_path), "--no-progress"]
    assert cli.main(base) == 2
    assert "add --policy causal-lm" in capsys.readouterr().err
    assert cli.main([*base, "--policy", "causal-lm", "--model", str(tiny_model), "--policy-kwargs",
                     '{"max_new_tokens": 16}', "--trainer-kwargs", '{"max_episode_steps": 4}']) == 0
    from sparsegym.agents.text.algos.hiper import HiPERPolicy

    run = tmp_path / "TextWorld-TreasureHunter-L10-v0-hiper-s0"
    assert isinstance(TextPolicy.load(run / "policy"), HiPERPolicy)

"""Leaderboard suites: their env ids and seeds are pinned (a registry change must not move a suite)."""

from sparsegym.leaderboards.suites import SUITES, TEST_SEED_BASE

# Every suite's env ids, in order, as they were hand-listed before suites became tag queries
# (captured from sparsegym 0.1.0's leaderboards/suites.py). Stored results and published tables refer
# to exactly these ids and seeds: changing one is a new suite, not an edit.
PINNED_IDS = {
    "smoke": [
        "MiniGrid-DoorKey-5x5-v0", "MiniGrid-Unlock-v0", "MiniGrid-KeyCorridorS3R1-v0", "MiniGrid-MultiRoom-N2-S4-v0",
        "BabyAI-GoToRedBallGrey-v0",
    ],
    "minigrid-easy": [
        "MiniGrid-DoorKey-5x5-v0", "MiniGrid-Unlock-v0", "MiniGrid-KeyCorridorS3R1-v0", "MiniGrid-MultiRoom-N2-S4-v0",
        "MiniGrid-MemoryS7-v0", "BabyAI-GoToRedBallGrey-v0", "BabyAI-GoToLocal-v0", "BabyAI-PickupLoc-v0",
    ],
    "minigrid-hard": [
        "MiniGrid-DoorKey-16x16-v0", "MiniGrid-BlockedUnlockPickup-v0", "MiniGrid-KeyCorridorS4R3-v0",
        "MiniGrid-KeyCorridorS5R3-v0", "MiniGrid-KeyCorridorS6R3-v0", "MiniGrid-MultiRoom-N4-S5-v0",
        "MiniGrid-MultiRoom-N6-v0", "MiniGrid-FourRooms-v0", "MiniGrid-LockedRoom-v0", "MiniGrid-ObstructedMaze-1Dlh-v0",
        "MiniGrid-ObstructedMaze-2Dlh-v0", "MiniGrid-ObstructedMaze-Full-v0", "MiniGrid-MemoryS13-v0",
        "BabyAI-KeyInBox-v0", "BabyAI-BossLevel-v0",
    ],
    "babyai": [
        "BabyAI-GoToRedBallGrey-v0", "BabyAI-GoToLocal-v0", "BabyAI-PickupLoc-v0", "BabyAI-PutNextLocal-v0",
        "BabyAI-UnlockLocal-v0", "BabyAI-KeyInBox-v0", "BabyAI-BossLevel-v0",
    ],
    "minigrid-stochastic": [
        "MiniGrid-DoorKey-8x8-NoisyTV-v0", "MiniGrid-KeyCorridorS3R3-NoisyTV-v0", "MiniGrid-MultiRoom-N4-S5-NoisyTV-v0",
        "MiniGrid-FourRooms-NoisyTV-v0", "MiniGrid-DoorKey-8x8-Sticky-v0", "MiniGrid-KeyCorridorS3R3-Sticky-v0",
        "MiniGrid-MultiRoom-N4-S5-Sticky-v0", "MiniGrid-FourRooms-Sticky-v0",
    ],
    "bandits": [
        "DynLinBandit-Rho03-v0", "DynLinBandit-Rho07-v0", "DynLinBandit-Rho09-v0", "DynLinBandit-Rho07-D4-v0",
        "DynLinBandit-Continuous-Rho07-v0", "LSDBandit-Satiating-v0", "LSDBandit-Recharging-v0", "LSDBandit-Monotone-v0",
    ],
    "textworld": [
        "TextWorld-W2-O3-Q4-Test-v0", "TextWorld-W4-O6-Q8-Test-v0", "TextWorld-Simple-Test-v0",
        "TextWorld-CoinCollector-L5-Test-v0", "TextWorld-TreasureHunter-L10-Test-v0", "TextWorld-Cooking-Test-v0",
    ],
    "alfworld": [
        "ALFWorld-PickAndPlace-Unseen-v0", "ALFWorld-LookAtInLight-Unseen-v0", "ALFWorld-Clean-Unseen-v0",
        "ALFWorld-Heat-Unseen-v0", "ALFWorld-Cool-Unseen-v0", "ALFWorld-PickTwo-Unseen-v0",
    ],
    # WebShop-v0 became v1 (reward and synthetic goals made exact; CHANGELOG): a deliberate move; the
    # published webshop table was regenerated on v1.
    "webshop": ["WebShop-v1"],
    "swe": ["SWE-Mutation-v0"],
}
# (episodes per env, step timeout) of each suite; seeds follow from episodes (dev 0.., test 1e6..).
PINNED_EPISODES = {
    "smoke": (10, 10.0), "minigrid-easy": (30, 10.0), "minigrid-hard": (30, 10.0), "babyai": (30, 10.0),
    "minigrid-stochastic": (30, 10.0), "bandits": (10, 10.0), "textworld": (10, 120.0), "alfworld": (20, 60.0),
    "webshop": (100, 60.0), "swe": (24, 300.0),
}


def test_every_suite_keeps_its_env_ids_in_order():
    assert list(SUITES) == list(PINNED_IDS)
    for name, ids in PINNED_IDS.items():
        assert list(SUITES[name].env_ids) == [f"sparsegym/{i}" for i in ids], name


def test_every_suite_keeps_its_seeds_and_timeout():
    for name, (episodes, timeout) in PINNED_EPISODES.items():
        s = SUITES[name]
        assert (s.episodes, s.step_timeout) == (episodes, timeout), name
        assert s.seeds("dev") == list(range(episodes))
        assert s.seeds("test") == list(range(TEST_SEED_BASE, TEST_SEED_BASE + episodes))


def test_shipped_suites_are_tag_queries_without_box_variants():
    import pytest

    from sparsegym.envs.registry import BOX_OBS_TAG, get_entry
    from sparsegym.leaderboards.suites import Suite

    for s in SUITES.values():
        assert s.query is not None, s.name
        assert list(s.env_ids) == s.query.ids()
        assert not any(BOX_OBS_TAG in get_entry(i).tags or get_entry(i).base_id for i in s.env_ids), s.name
    with pytest.raises(ValueError, match="select Box-observation variants"):
        Suite.from_tags("boxes", "box-obs", episodes=1, description="")


def test_from_tags_names_the_known_tags_on_a_typo():
    import pytest

    from sparsegym.leaderboards.suites import Suite

    with pytest.raises(ValueError, match="unknown tag 'minigrid-esay'; known tags: .*minigrid-easy"):
        Suite.from_tags("x", "minigrid-esay", episodes=1, description="")
    with pytest.raises(ValueError, match="unknown tag 'nope'"):
        Suite.from_tags("x", "minigrid", exclude="nope", episodes=1, description="")


def test_from_tags_queries_and_hand_listed_suites():
    from sparsegym.leaderboards.suites import Suite

    s = Suite.from_tags("stoch-doorkey", "minigrid", any_of=("noisy-tv", "sticky"), exclude="minigrid-hard",
                        episodes=2, description="")
    assert s.env_ids == SUITES["minigrid-stochastic"].env_ids  # none of the variants is tagged hard
    assert str(s.query) == "minigrid & (noisy-tv | sticky) & !minigrid-hard"
    adhoc = Suite("mine", ("sparsegym/MiniGrid-DoorKey-5x5-v0",), episodes=3, description="t")
    assert adhoc.query is None and adhoc.episodes_of("dev") == [("sparsegym/MiniGrid-DoorKey-5x5-v0", s) for s in range(3)]


def test_a_suites_pinned_older_version_is_made_without_gymnasiums_upgrade_advice():
    """The bandits suite pins LSDBandit-*-v0 beside the paper instances' -v1: gymnasium warns that v0 is out
    of date on a plain make, the evaluator (which plays what the suite pins) does not."""
    import warnings

    import sparsegym
    from sparsegym.leaderboards.evaluator import make_env

    env_id = "sparsegym/LSDBandit-Recharging-v0"
    assert env_id in SUITES["bandits"].env_ids
    with warnings.catch_warnings(record=True) as plain:
        warnings.simplefilter("always")
        sparsegym.make(env_id).close()
    assert any("out of date" in str(w.message) for w in plain)  # the case exists
    with warnings.catch_warnings(record=True) as evaluated:
        warnings.simplefilter("always")
        env, _ = make_env(env_id)
        env.close()
    assert not any("out of date" in str(w.message) for w in evaluated)

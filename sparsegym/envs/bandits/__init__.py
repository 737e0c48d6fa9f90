"""Non-stationary bandits: dynamical linear bandits and last-switch-dependent bandits (numpy only).
``FAMILY`` is the family's descriptor (:mod:`sparsegym.envs.family`)."""

from sparsegym.envs.bandits.dynlin import (
                                           DynLinBandit,
                                           make_dynlin,
                                           make_mussi2023,
                                           random_instance,
                                           steady_state_gain,
)
from sparsegym.envs.bandits.lsd import LSDBandit, lsd_optimal_plan, make_lsd
from sparsegym.envs.family import Family

FAMILY = Family(name="bandits", text_view="sparsegym.envs.bandits.text:bandit_view", baselines={"random": "sparsegym.baselines:RandomAgent",
                                           "bandit-learner": "sparsegym.agents.bandits:make_bandit_agent"})

__all__ = ["FAMILY", "DynLinBandit", "make_dynlin", "make_mussi2023", "random_instance", "steady_state_gain", "LSDBandit", "lsd_optimal_plan",
           "make_lsd"]

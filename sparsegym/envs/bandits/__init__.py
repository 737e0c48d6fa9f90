"""Non-stationary bandits: dynamical linear bandits and last-switch-dependent bandits (numpy only)."""

from sparsegym.envs.bandits.dynlin import DynLinBandit, make_dynlin, random_instance, steady_state_gain
from sparsegym.envs.bandits.lsd import LSDBandit, lsd_optimal_plan, make_lsd

__all__ = ["DynLinBandit", "make_dynlin", "random_instance", "steady_state_gain", "LSDBandit", "lsd_optimal_plan",
           "make_lsd"]

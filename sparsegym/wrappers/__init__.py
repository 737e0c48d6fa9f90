"""Stackable wrappers. One concern per module; each keeps the info keys of sparsegym's contract and
adds its reward term to ``info["reward_components"]`` without touching ``extrinsic``.

Stacking order (innermost first): reward *sources* (``SubgoalReward``, ``PotentialShaping``,
``CountBonus``, ``IntrinsicReward``) in any order, then ``GatedReward`` outside the terms it gates,
then observation wrappers that change what the agent sees (``TextObservation``) last, since the
reward wrappers read the env's own observations.
"""

from sparsegym.wrappers.counts import CountBonus
from sparsegym.wrappers.gating import GatedReward
from sparsegym.wrappers.intrinsic import IntrinsicReward
from sparsegym.wrappers.shaping import PotentialShaping
from sparsegym.wrappers.subgoals import Subgoal, SubgoalReward, Transition
from sparsegym.wrappers.text import TextObservation

__all__ = ["CountBonus", "GatedReward", "IntrinsicReward", "PotentialShaping", "Subgoal", "SubgoalReward",
           "TextObservation", "Transition"]

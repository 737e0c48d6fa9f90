"""TextWorld family (extra ``text``): games made offline by TextWorld's generator, played as text.

* :mod:`sparsegym.envs.textworld.env`: the env; :mod:`sparsegym.envs.textworld.games`: game making;
  :mod:`sparsegym.envs.textworld.subgoals`: the subgoal library (score reached, text matched).

``FAMILY`` is the family's descriptor (:mod:`sparsegym.envs.family`).
"""

from sparsegym.envs.family import Family

FAMILY = Family(name="textworld", packages=("textworld",), text_native=True,
                progress="sparsegym.envs.textworld.progress:TextWorldProgress",
                subgoals="sparsegym.envs.textworld.subgoals",
                oracle="sparsegym.baselines:WalkthroughAgent",
                baselines={"random": "sparsegym.baselines:RandomAgent", "walkthrough": "sparsegym.baselines:WalkthroughAgent"})

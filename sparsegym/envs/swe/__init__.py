"""Software repair (SWE-Gym style): tasks in the SWE-bench format, a local sandbox and a Docker runtime.

* :mod:`.env`: the env; :mod:`.tasks`: the task format; :mod:`.maker`: making tasks from a project;
  :mod:`.sandbox`: the runtimes; :mod:`.attacks`: the hostile commands the sandbox is measured against.

``FAMILY`` is the family's descriptor (:mod:`sparsegym.envs.family`).
"""

from sparsegym.envs.family import Family

FAMILY = Family(name="swe", packages=("docker",), text_native=True,
                oracle="sparsegym.baselines.swe_agents:GoldPatchAgent",
                baselines={"submit-at-once": "sparsegym.baselines.swe_agents:SubmitAtOnceAgent",
                           "gold-patch": "sparsegym.baselines.swe_agents:GoldPatchAgent"})

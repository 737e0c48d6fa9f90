"""WebShop: a faithful, offline WebShop (search, product pages, options, the original's reward).

See :mod:`sparsegym.envs.webshop.env`. Nothing heavy is imported here; bm25s (extra ``webshop``) is
imported when an env builds its search index.
"""

from sparsegym.envs.family import Family

#: The family's descriptor (:mod:`sparsegym.envs.family`).
FAMILY = Family(name="webshop", packages=("bm25s",), text_native=True,
                oracle="sparsegym.baselines.webshop_agent:WebShopScriptedAgent",
                baselines={"random": "sparsegym.baselines:RandomAgent",
                           "scripted": "sparsegym.baselines.webshop_agent:WebShopScriptedAgent"})

"""WebShop: a faithful, offline WebShop (search, product pages, options, the original's reward).

See :mod:`sparsegym.envs.webshop.env`. Nothing heavy is imported here; bm25s (extra ``webshop``) is
imported when an env builds its search index.
"""

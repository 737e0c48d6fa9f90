"""MkDocs hooks of the docs site (mkdocs.yml: ``hooks``).

Docstrings here are written for both ``help()`` and the site, and some use Sphinx roles such as
``:class:`Foo```. mkdocstrings renders the literal as code but leaves the role's name in front of it;
this drops the name, so the page reads ``Foo`` as code.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:class|mod|func|meth|attr|data|exc|obj):(?=<code>)")


def on_page_content(html: str, **kwargs) -> str:
    return _ROLE.sub("", html)

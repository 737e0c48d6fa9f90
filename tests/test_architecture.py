"""The house's walls, checked on the source (DESIGN.md): data flows one way, lower layers never import
higher ones, and generic layers never name a family: they ask its descriptor (sparsegym.envs.family).
Only code counts here: docstring examples may use any family's ids."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sparsegym.envs import registry

PACKAGE = Path(__file__).resolve().parents[1] / "sparsegym"
# Layer of each top-level part of the package; a module may import only its own layer or lower ones.
LAYERS = {
    "errors": 0, "types": 0, "_deps": 0, "_lazy": 0, "_cache": 0, "utils": 0,
    "envs": 1, "llm": 1,
    "intrinsic": 2, "wrappers": 2,
    "agents": 3,
    "baselines": 4,
    "leaderboards": 5, "checks": 5,
    "cli": 6, "__init__": 6,
}
GENERIC = ("wrappers", "intrinsic", "agents", "leaderboards")
FAMILIES = set(registry.families())
# Family-specific code that lives in a generic layer on purpose, with the reason.
ALLOWED = {
    "agents/bandits.py": "the bandit papers' learners (DynLin-UCB, LSD planners) read the bandit model they are defined for",
}


def _modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "data" not in p.relative_to(PACKAGE).parts]


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.name != "__init__.py" else "__init__"


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return [(line, m) for line, m in out if m == "sparsegym" or m.startswith("sparsegym.")]


def test_every_module_has_a_layer():
    assert {_part(p) for p in _modules()} <= set(LAYERS)


def test_lower_layers_never_import_higher_ones():
    bad = []
    for path in _modules():
        part = _part(path)
        for line, module in _imports(ast.parse(path.read_text())):
            # A bare `import sparsegym` is for make/list_envs/__version__ and registration: the envs layer.
            target = module.split(".")[1] if "." in module else "envs"
            if LAYERS.get(target, 0) > LAYERS[part]:
                bad.append(f"{path.relative_to(PACKAGE)}:{line} ({part}) imports {module} ({target})")
    assert bad == []


@pytest.mark.parametrize("layer", GENERIC)
def test_generic_layers_name_no_family(layer):
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        if rel in ALLOWED:
            continue
        tree = ast.parse(path.read_text())
        for line, module in _imports(tree):
            parts = module.split(".")
            if len(parts) >= 3 and parts[1] == "envs" and parts[2] in FAMILIES:
                bad.append(f"{rel}:{line} imports the family module {module}")
        for node in ast.walk(tree):  # `family == "nethack"`, `name in ("minigrid", ...)`
            if isinstance(node, ast.Compare):
                consts = [c for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
                hits = [c.value for c in consts if c.value.lower() in FAMILIES]
                if hits:
                    bad.append(f"{rel}:{node.lineno} compares with the family name {hits[0]!r}")
    assert bad == []


def test_every_family_has_a_descriptor_in_its_own_package():
    from sparsegym.envs.family import get_family

    for name in FAMILIES:
        family = get_family(name)
        assert family.name == name and (PACKAGE / "envs" / name / "__init__.py").is_file()
        for ref in [family.text_view, family.cell, family.encoder, family.owns, family.symbolic_state,
                    *family.state_keys.values(), *family.potentials.values()]:
            if ref is not None:
                assert ref.startswith(f"sparsegym.envs.{name}."), f"{name}'s descriptor points outside its folder: {ref}"

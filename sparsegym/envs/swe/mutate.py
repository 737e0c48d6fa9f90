"""Procedural bug injection by AST mutation (no LLM), with minimal source edits.

Operators (each finds its sites with :mod:`ast` and edits only the source span of the node it
changes, so the bug's diff is one or two lines):

* ``flip_compare``: ``==``/``!=``, ``<``/``>=``, ``<=``/``>``, ``in``/``not in``, ``is``/``is not``;
* ``flip_binop``: ``+``/``-``, ``*``/``//``, ``and``/``or``;
* ``drop_if``: remove an ``if`` statement that has no ``else`` (a ``pass`` keeps the block valid);
* ``drop_return``: remove a ``return`` that is not a function's last statement;
* ``off_by_one``: an integer constant ``n`` becomes ``n + 1``;
* ``swap_args``: the first two positional arguments of a call change places.

:func:`mutations` lists every site of a source file; :meth:`Mutation.apply` returns the mutated source
(checked to compile). Only single-line nodes are edited (multi-line ones are skipped).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

OPERATORS = ("flip_compare", "flip_binop", "drop_if", "drop_return", "off_by_one", "swap_args")

_CMP = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.LtE: ast.Gt, ast.Gt: ast.LtE,
        ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult}
_BOOL = {ast.And: ast.Or, ast.Or: ast.And}


@dataclass(frozen=True)
class Mutation:
    """One edit: replace lines ``[start, end]`` (1-based) of ``path`` by ``new_lines``."""

    path: str
    operator: str
    line: int
    end_line: int
    new_lines: tuple[str, ...]
    description: str

    def apply(self, source: str) -> str:
        lines = source.splitlines(keepends=True)
        new = [ln if ln.endswith("\n") else ln + "\n" for ln in self.new_lines]
        out = "".join(lines[: self.line - 1] + new + lines[self.end_line:])
        compile(out, self.path, "exec")
        return out


def _replace_span(lines: list[str], node: ast.AST, text: str) -> tuple[str, ...] | None:
    if node.lineno != node.end_lineno:
        return None
    line = lines[node.lineno - 1]
    b = len(line.encode()[: node.col_offset].decode(errors="ignore"))
    e = len(line.encode()[: node.end_col_offset].decode(errors="ignore"))
    return (line[:b] + text + line[e:],)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _block_of(stmt: ast.stmt, parent: ast.AST) -> list[ast.stmt] | None:
    for name in ("body", "orelse", "finalbody"):
        block = getattr(parent, name, None)
        if isinstance(block, list) and stmt in block:
            return block
    for handler in getattr(parent, "handlers", []) or []:
        if stmt in handler.body:
            return handler.body
    return None


def mutations(source: str, path: str = "<source>") -> Iterator[Mutation]:
    """Every mutation site of ``source``, in source order per operator."""
    tree = ast.parse(source)
    lines = source.splitlines()
    parents = _parents(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP:
            new = ast.Compare(left=node.left, ops=[_CMP[type(node.ops[0])]()], comparators=node.comparators)
            span = _replace_span(lines, node, ast.unparse(new))
            if span:
                yield Mutation(path, "flip_compare", node.lineno, node.lineno, span,
                               f"flipped the comparison `{ast.unparse(node)}`")
        elif isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            new = ast.BinOp(left=node.left, op=_BIN[type(node.op)](), right=node.right)
            span = _replace_span(lines, node, ast.unparse(new))
            if span:
                yield Mutation(path, "flip_binop", node.lineno, node.lineno, span, f"flipped the operator in `{ast.unparse(node)}`")
        elif isinstance(node, ast.BoolOp) and len(node.values) == 2:
            new = ast.BoolOp(op=_BOOL[type(node.op)](), values=node.values)
            span = _replace_span(lines, node, ast.unparse(new))
            if span:
                yield Mutation(path, "flip_binop", node.lineno, node.lineno, span, f"flipped `{ast.unparse(node)}`")
        elif isinstance(node, ast.Constant) and type(node.value) is int and not isinstance(parents.get(node), ast.UnaryOp):
            span = _replace_span(lines, node, str(node.value + 1))
            if span:
                yield Mutation(path, "off_by_one", node.lineno, node.lineno, span, f"changed the constant {node.value} to {node.value + 1}")
        elif isinstance(node, ast.Call) and len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args[:2]):
            a, b = node.args[0], node.args[1]
            if a.lineno == b.end_lineno == node.lineno and ast.unparse(a) != ast.unparse(b):
                line = lines[node.lineno - 1]
                sa = (len(line.encode()[: a.col_offset].decode(errors="ignore")), len(line.encode()[: a.end_col_offset].decode(errors="ignore")))
                sb = (len(line.encode()[: b.col_offset].decode(errors="ignore")), len(line.encode()[: b.end_col_offset].decode(errors="ignore")))
                text_a, text_b = line[sa[0]:sa[1]], line[sb[0]:sb[1]]
                new_line = line[: sa[0]] + text_b + line[sa[1]: sb[0]] + text_a + line[sb[1]:]
                yield Mutation(path, "swap_args", node.lineno, node.lineno, (new_line,),
                               f"swapped the first two arguments of `{ast.unparse(node.func)}(...)`")
        elif isinstance(node, (ast.If, ast.Return)):
            parent = parents.get(node)
            block = _block_of(node, parent) if parent is not None else None
            if block is None:
                continue
            if isinstance(node, ast.If):
                if node.orelse:
                    continue
                what = f"removed the check `if {ast.unparse(node.test)}:`"
                op = "drop_if"
            else:
                if node is block[-1] and isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                what = f"removed `{ast.unparse(node)}`"
                op = "drop_return"
            replacement = (_indent(lines[node.lineno - 1]) + "pass",) if len(block) == 1 else ()
            yield Mutation(path, op, node.lineno, node.end_lineno, replacement, what)

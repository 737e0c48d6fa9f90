"""The rules for LLM-written reward code, and the worker program that runs it.

This module is the *child* side of :class:`sparsegym.llm.reward_evaluator.RewardCodeEvaluator`: the
evaluator starts ``python -I -S -c <this file's source>`` and speaks to it over its standard input and
output, one message a line. So the module imports nothing but the standard library, and nothing of
sparsegym; the parent imports :func:`check_code` from it too, so both sides apply the same rules.

What code may contain (:func:`check_code`, applied before any code runs, in the parent and again in
the worker):

* at the top level only function definitions, assignments (constant tables) and a docstring; a
  function named ``reward`` (by default) taking at least three positional arguments;
* no ``import`` or ``from ... import`` (``math`` is provided as a name), no ``global``/``nonlocal``,
  no classes, no ``async``, ``await``, ``yield`` or ``with``;
* no name, argument or attribute that starts with two underscores (``__class__``, ``__import__``),
  and attributes only from :data:`ALLOWED_ATTRIBUTES` (the methods of dicts, lists, strings, sets
  and tuples that read or build data, and the ``math`` functions): generator frames (``gi_frame``),
  ``str.format`` field lookups and similar ways around the dunder rule are not on the list;
* no use of the names in :data:`DENIED_NAMES` (``open``, ``eval``, ``exec``, ``compile``, ``getattr``,
  ``setattr``, ``globals``, ``locals``, ``vars``, ``input``, ``breakpoint``, ``type``, ``print``, ...).

How it runs (:func:`serve`): the code is compiled and executed with :data:`SAFE_BUILTINS` as its only
builtins (so even a name the checker missed does not exist), the process's address space is capped
(``RLIMIT_AS``), it may write no file (``RLIMIT_FSIZE`` 0) nor open new descriptors (``RLIMIT_NOFILE``),
and each call arms a timer whose signal ends the process if the call overruns (the parent also kills
it on its own deadline and starts another). A call's result must be an ``int``/``float``/``bool``, or a
dict of up to :data:`MAX_PARTS` named numbers (reward components, summed); anything else is an error.

Protocol: the parent writes Python literals (``repr`` of tuples of plain data), read back with
:func:`ast.literal_eval`, so tuples stay tuples; the worker answers with one JSON object a line:
``{"ok": true, "value": 0.1, "parts": null}`` or ``{"ok": false, "kind": "exception", "error": "..."}``.
"""

from __future__ import annotations

import ast
from typing import Any

#: The function the code must define, unless another name is asked for.
FUNCTION_NAME = "reward"
#: Longest code accepted, in characters.
MAX_CODE_CHARS = 20_000
#: Most named components a call may return.
MAX_PARTS = 16
#: Longest error message sent back.
MAX_ERROR_CHARS = 300

#: Builtins the code may use (and the only ones present when it runs).
SAFE_BUILTIN_NAMES: tuple[str, ...] = (
    "abs", "all", "any", "bool", "dict", "divmod", "enumerate", "filter", "float", "frozenset", "int",
    "isinstance", "len", "list", "map", "max", "min", "pow", "range", "reversed", "round", "set", "sorted",
    "str", "sum", "tuple", "zip",
    # exceptions, so that code may catch them
    "ArithmeticError", "Exception", "IndexError", "KeyError", "LookupError", "TypeError", "ValueError",
    "ZeroDivisionError",
)
#: The functions and constants of the ``math`` object the code sees.
MATH_NAMES: tuple[str, ...] = (
    "ceil", "copysign", "cos", "dist", "e", "exp", "fabs", "floor", "fsum", "hypot", "inf", "isclose",
    "isfinite", "isinf", "isnan", "log", "log10", "log2", "pi", "prod", "sin", "sqrt", "tan", "tanh", "atan2",
)
#: Attribute names the code may use: methods that read or build plain data, and ``math``'s names.
ALLOWED_ATTRIBUTES: frozenset[str] = frozenset({
    # dict
    "get", "items", "keys", "values", "copy", "setdefault", "pop", "update", "fromkeys",
    # list and tuple
    "append", "extend", "index", "count", "insert", "remove", "reverse", "sort", "clear",
    # str
    "startswith", "endswith", "lower", "upper", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines",
    "find", "rfind", "replace", "join", "partition", "rpartition", "isdigit", "isalpha", "isalnum", "isspace",
    "islower", "isupper", "title", "capitalize", "zfill", "center", "ljust", "rjust",
    # set
    "add", "discard", "union", "intersection", "difference", "symmetric_difference", "issubset",
    "issuperset", "isdisjoint",
    # numbers
    "is_integer", "bit_length", "real", "imag",
    *MATH_NAMES,
})
#: Names refused outright, with the reason given back to the author.
DENIED_NAMES: dict[str, str] = {
    **{name: "no file, network or terminal access" for name in ("open", "input", "print", "help", "exit", "quit")},
    **{name: "no dynamic code" for name in ("eval", "exec", "compile", "__import__", "breakpoint")},
    **{name: "no reflection" for name in ("getattr", "setattr", "delattr", "hasattr", "globals", "locals", "vars",
                                          "dir", "type", "object", "super", "id", "memoryview", "classmethod",
                                          "staticmethod", "property", "issubclass", "callable")},
}
_REFUSED_NODES: dict[type, str] = {
    ast.Import: "import statements are not allowed (a `math` object is already provided)",
    ast.ImportFrom: "import statements are not allowed (a `math` object is already provided)",
    ast.Global: "`global` is not allowed: the function must not keep state between calls",
    ast.Nonlocal: "`nonlocal` is not allowed",
    ast.ClassDef: "classes are not allowed",
    ast.AsyncFunctionDef: "async functions are not allowed",
    ast.Await: "`await` is not allowed",
    ast.AsyncFor: "`async for` is not allowed",
    ast.AsyncWith: "`async with` is not allowed",
    ast.With: "`with` is not allowed",
    ast.Yield: "generators (`yield`) are not allowed",
    ast.YieldFrom: "generators (`yield from`) are not allowed",
}
_TOP_LEVEL = (ast.FunctionDef, ast.Assign, ast.AnnAssign)


def check_code(code: str, function: str = FUNCTION_NAME) -> list[str]:
    """Every rule ``code`` breaks (empty when it may run), each a short sentence naming the fix."""
    if not isinstance(code, str):
        return [f"the code must be a str, got {type(code).__name__}"]
    if len(code) > MAX_CODE_CHARS:
        return [f"the code is {len(code)} characters long; at most {MAX_CODE_CHARS} are accepted"]
    try:
        tree = ast.parse(code, mode="exec")
    except SyntaxError as exc:
        return [f"syntax error at line {exc.lineno}: {exc.msg}"]
    except (ValueError, RecursionError, MemoryError) as exc:
        return [f"the code cannot be parsed: {type(exc).__name__}"]
    problems: list[str] = []

    def refuse(node: ast.AST, message: str) -> None:
        line = getattr(node, "lineno", None)
        text = f"line {line}: {message}" if line else message
        if text not in problems:
            problems.append(text)

    for index, node in enumerate(tree.body):
        docstring = index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
            and isinstance(node.value.value, str)
        if not (docstring or isinstance(node, _TOP_LEVEL) or type(node) in _REFUSED_NODES):
            refuse(node, f"a top-level {type(node).__name__} statement; the top level may hold only function "
                         "definitions, assignments and a docstring")
    for node in ast.walk(tree):
        reason = _REFUSED_NODES.get(type(node))
        if reason is not None:
            refuse(node, reason)
            continue
        if isinstance(node, ast.Constant):
            continue
        for field, value in ast.iter_fields(node):
            names = value if isinstance(value, list) else [value]
            for name in names:
                if isinstance(name, str) and name.startswith("__"):
                    refuse(node, f"the name {name!r} is not allowed (nothing that starts with two underscores)")
                elif isinstance(name, str) and field in ("id", "arg", "name") and name in DENIED_NAMES:
                    refuse(node, f"{name!r} is not allowed ({DENIED_NAMES[name]})")
        if isinstance(node, ast.Attribute) and not node.attr.startswith("__") and node.attr not in ALLOWED_ATTRIBUTES:
            refuse(node, f"the attribute .{node.attr} is not allowed (only the methods of dicts, lists, strings, "
                         "sets and tuples that read or build data, and math's functions)")
    defined = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
    if not defined:
        problems.append(f"no top-level function named {function!r}: define `def {function}(prev_state, action, state):`")
    else:
        args = defined[-1].args
        if len(args.posonlyargs) + len(args.args) < 3 and args.vararg is None:
            problems.append(f"{function}() must take three positional arguments: (prev_state, action, state)")
    return problems


# -- the worker (runs in the child process) ---------------------------------------------------------------

def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_ERROR_CHARS]


def _number(value: Any) -> float | None:
    return float(value) if type(value) in (int, float, bool) else None


def _result(value: Any) -> dict[str, Any]:
    """The reply for a call's return value: a number, or a dict of named numbers (summed)."""
    number = _number(value)
    if number is not None:
        return {"ok": True, "value": number, "parts": None}
    if type(value) is dict:
        if len(value) > MAX_PARTS:
            return {"ok": False, "kind": "bad_value", "error": f"returned {len(value)} components; at most {MAX_PARTS}"}
        parts: dict[str, float] = {}
        for key, item in value.items():
            item_number = _number(item)
            if type(key) is not str or item_number is None:
                return {"ok": False, "kind": "bad_value",
                        "error": "a dict result must map str names to numbers, got "
                                 f"{type(key).__name__} -> {type(item).__name__}"}
            parts[key[:40]] = item_number
        return {"ok": True, "value": sum(parts.values()), "parts": parts}
    return {"ok": False, "kind": "bad_value",
            "error": f"returned a {type(value).__name__}, not a number (or a dict of named numbers)"}


def serve(config: dict[str, Any]) -> None:
    """The worker's loop: read a message a line from stdin, answer a JSON line on stdout, until EOF.

    ``config``: ``memory_mb`` (address-space limit), ``call_seconds`` and ``load_seconds`` (the timer
    that ends the process when a call or the load overruns), ``function`` (its name).
    """
    import json
    import math
    import resource
    import signal
    import sys
    import types

    memory = int(config["memory_mb"]) * 1024 * 1024
    for limit, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_CORE, 0),
                         (resource.RLIMIT_NOFILE, 8)):
        soft, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value))
    sys.setrecursionlimit(int(config.get("recursion_limit", 400)))
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the timer's signal ends the process; nothing catches it
    function = str(config.get("function", FUNCTION_NAME))
    call_seconds, load_seconds = float(config["call_seconds"]), float(config["load_seconds"])
    builtins = {name: __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
                for name in SAFE_BUILTIN_NAMES}
    math_object = types.SimpleNamespace(**{name: getattr(math, name) for name in MATH_NAMES})
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    fn = None

    def reply(message: dict[str, Any]) -> None:
        stdout.write(json.dumps(message).encode() + b"\n")
        stdout.flush()

    for line in stdin:
        try:
            message = ast.literal_eval(line.decode("utf-8"))
            op = message[0]
        except Exception as exc:  # noqa: BLE001 (a bad message is answered, never fatal)
            reply({"ok": False, "kind": "protocol", "error": _short(exc)})
            continue
        if op == "load":
            problems = check_code(message[1], function)
            if problems:
                reply({"ok": False, "kind": "refused", "error": "; ".join(problems)[:MAX_ERROR_CHARS]})
                continue
            scope: dict[str, Any] = {"__builtins__": builtins, "math": math_object, "__name__": "reward_code"}
            signal.setitimer(signal.ITIMER_REAL, load_seconds)
            try:
                exec(compile(message[1], "<reward code>", "exec"), scope)  # noqa: S102 (checked, restricted)
                fn = scope.get(function)
                answer = {"ok": True} if callable(fn) else {"ok": False, "kind": "refused",
                                                            "error": f"{function} is not a function"}
            except BaseException as exc:  # noqa: BLE001
                fn, answer = None, {"ok": False, "kind": "memory" if isinstance(exc, MemoryError) else "exception",
                                    "error": _short(exc)}
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            reply(answer)
        elif op == "call":
            if fn is None:
                reply({"ok": False, "kind": "refused", "error": "no code is loaded"})
                continue
            signal.setitimer(signal.ITIMER_REAL, call_seconds)
            try:
                answer = _result(fn(*message[1:]))
            except BaseException as exc:  # noqa: BLE001
                answer = {"ok": False, "kind": "memory" if isinstance(exc, MemoryError) else "exception",
                          "error": _short(exc)}
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            reply(answer)
        else:
            reply({"ok": False, "kind": "protocol", "error": f"unknown operation {op!r}"})


if __name__ == "__main__":  # the worker: python -I -S -c <this source> '<config as JSON>'
    import json as _json
    import sys as _sys

    serve(_json.loads(_sys.argv[1]))

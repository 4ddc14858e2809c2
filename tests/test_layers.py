"""The tree tells the design: each room imports only from the rooms below it, with no cycles,
and the size limits of docs/architecture.md hold (issue 22)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ser_img"

# Lowest first: a room may import from itself and from the rooms before it. The shared
# vocabulary (errors, labels, version) sits below everything; the modules a user imports
# (options, source, records, recognizer) sit above every room; pipelines and the CLI above them.
LAYERS = [
    {"ser_img.errors", "ser_img.labels", "ser_img.version"},
    {"ser_img.runtime"},
    {"ser_img.audio"},
    {"ser_img.speech"},
    {"ser_img.features"},
    {"ser_img.members"},
    {"ser_img.ensemble"},
    {"ser_img.corpus"},
    {"ser_img.store"},
    {"ser_img.conversation"},
    {"ser_img.report"},
    {"ser_img.options", "ser_img.source", "ser_img.records"},
    {"ser_img.scoring"},
    {"ser_img.recognizer", "ser_img"},
    {"pipelines"},
    {"cli"},
]
MAX_LINES = 400
MAX_TOP_MODULES = 12


def _room(module: str) -> str:
    for layer in LAYERS:
        for room in sorted(layer, key=len, reverse=True):
            if module == room or module.startswith(room + "."):
                return room
    raise AssertionError(f"{module} belongs to no layer")


def _rank(module: str) -> int:
    room = _room(module)
    return next(i for i, layer in enumerate(LAYERS) if room in layer)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> list[Path]:
    return [*PACKAGE.rglob("*.py"), *(ROOT / "pipelines").rglob("*.py"), ROOT / "cli.py"]


def _imports(path: Path) -> set[str]:
    """Absolute names of the project's modules that `path` imports (anywhere in the file)."""
    found = set()
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in ("ser_img", "pipelines", "cli")}


def _existing(name: str) -> str | None:
    """The module a dotted import name refers to (an attribute import resolves to its module)."""
    while name:
        parts = name.split(".")
        if (ROOT / Path(*parts)).with_suffix(".py").exists() or (ROOT / Path(*parts) / "__init__.py").exists():
            return name
        name = name.rpartition(".")[0]
    return None


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in _sources():
        module = _module_name(path)
        graph[module] = {m for m in map(_existing, _imports(path)) if m and m != module}
    return graph


def test_no_room_imports_a_higher_one():
    upward = []
    for module, imported in _graph().items():
        for name in imported:
            if _rank(name) > _rank(module):
                upward.append(f"{module} -> {name}")
    assert not upward, "imports from a higher layer:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    graph = _graph()
    # Package __init__ files re-export their room; an import of a package is an import of its __init__.
    state: dict[str, int] = {}
    cycles = []

    def visit(node, trail):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]) if nxt in trail else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_every_room_says_what_it_is():
    for init in PACKAGE.glob("*/__init__.py"):
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} has no docstring"


def test_files_stay_small():
    long = [f"{p.relative_to(ROOT)} ({n})" for p in _sources() if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, f"over {MAX_LINES} lines: {', '.join(long)}"
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= MAX_TOP_MODULES, top

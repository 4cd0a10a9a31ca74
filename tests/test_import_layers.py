"""One-way layers: no import cycle among the project's modules (``src/``, ``components/``, ``pipelines/``), nothing
there imports ``tests``, and the tools (``climbflow.sampledata``: ``climb sample-data``; ``climbflow.hardening``:
``climb doctor``) stay off the runtime path: only the CLI and the pipeline runner's sample setup import them. No
module imports another module's private names (``_x``): what is shared gets a public name.

The graph is read from the source text (``ast``), not by importing, so a function-level import counts too: a
deferred import is still a dependency a maintainer has to read around.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOPS = {
    "climbflow": Path("src") / "climbflow",
    "components": Path("components"),
    "pipelines": Path("pipelines"),
}
TOOLS = ("climbflow.sampledata", "climbflow.hardening")
TOOL_USERS = {"climbflow.cli", "climbflow.pipeline_runner"}


def modules(root: Path) -> dict[str, Path]:
    """Module name -> file, for every module of the three top-level packages under ``root``."""
    found = {}
    for package, base in TOPS.items():
        for path in (root / base).rglob("*.py"):
            parts = [package, *path.relative_to(root / base).with_suffix("").parts]
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def from_target(node: ast.ImportFrom, path: Path, name: str) -> str:
    """The module a ``from ... import`` statement of module ``name`` (file ``path``) reads, relative ones resolved."""
    if not node.level:
        return node.module or ""
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    base = here.split(".")[: len(here.split(".")) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports(path: Path, name: str) -> set[str]:
    """Every module name an import statement of ``path`` names (``from a import b`` names ``a`` and ``a.b``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = from_target(node, path, name)
            out.update([target, *(f"{target}.{alias.name}" for alias in node.names)])
    return out


def graph(root: Path) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a package's own submodules importing it do not count)."""
    mods = modules(root)
    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        targets = set()
        for imported in imports(path, name):
            while imported and imported not in mods:  # ``a.b.func`` -> the module ``a.b``
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                targets.add(imported)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def tool_importers(root: Path) -> set[str]:
    """Modules outside the tools that import a tool."""
    return {
        name
        for name, targets in graph(root).items()
        if not name.startswith(TOOLS)
        and any(t == tool or t.startswith(tool + ".") for t in targets for tool in TOOLS)
    }


def private_imports(root: Path) -> list[str]:
    """``module: name`` for every private name (``_x``) one project module imports from another."""
    mods = modules(root)
    found = []
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            target = from_target(node, path, name)
            if target.split(".")[0] in TOPS and target != name:
                found += [f"{name}: {target}.{a.name}" for a in node.names if a.name.startswith("_")]
    return sorted(found)


def test_no_import_cycle() -> None:
    assert cycles(graph(ROOT)) == []


def test_production_code_never_imports_tests() -> None:
    offenders = sorted(
        name
        for name, path in modules(ROOT).items()
        if any(i.split(".")[0] == "tests" for i in imports(path, name))
    )
    assert offenders == []


def test_no_module_imports_another_modules_private_names() -> None:
    assert private_imports(ROOT) == []


def test_only_the_cli_and_the_runner_import_the_tools() -> None:
    assert tool_importers(ROOT) <= TOOL_USERS


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_the_checks_find_a_cycle_a_deferred_import_a_tool_on_the_runtime_path_and_a_private_import(
    tmp_path: Path,
) -> None:
    root = _tree(
        tmp_path,
        {
            "src/climbflow/__init__.py": "",
            "src/climbflow/a.py": "from climbflow import b\n",
            "src/climbflow/b.py": "def f():\n    from climbflow.c import g\n",  # deferred: still an edge
            "src/climbflow/c.py": "import climbflow.a\ndef g(): ...\ndef _h(): ...\n",
            "src/climbflow/d.py": "from climbflow.c import _h\n",
            "src/climbflow/e.py": "from .c import _h as h\n",  # relative: resolved, still private
            "src/climbflow/stages/__init__.py": "",
            "src/climbflow/stages/x.py": "def f():\n    from climbflow.sampledata import chexpert\n",
            "src/climbflow/sampledata/__init__.py": "",
            "src/climbflow/sampledata/chexpert.py": "from climbflow import a\n",
            "components/__init__.py": "",
            "pipelines/__init__.py": "",
        },
    )
    assert cycles(graph(root)) == [["climbflow.a", "climbflow.b", "climbflow.c"]]
    assert tool_importers(root) == {"climbflow.stages.x"}
    assert private_imports(root) == ["climbflow.d: climbflow.c._h", "climbflow.e: climbflow.c._h"]

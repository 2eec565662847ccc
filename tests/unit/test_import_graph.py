"""The package layout holds: imports run one way down the layers, no import circles, and every
in-function import of a wbvla module says why it is deferred.

The layers, lowest first (a component may import only components of lower layers; components
of one layer never import each other; ``wbvla/__init__.py`` says the same in prose):

 0. foundation: the package root and its helper modules (``validation``, ``io``, ``paths``,
    ``compat``)
 1. ``sim`` (the X2, scenes, cameras), ``viz`` (figure / video helpers), ``training`` (the one
    Lightning harness of LAM and VLA training: resume, same-run check, devices, checkpoints)
 2. ``data`` (corpora, teleoperation schema, LeRobot v3)
 3. ``lam`` (Stage I), ``lmo`` (the RL locomotion policy: training, export, numpy ONNX inference)
 4. ``control`` (the policy contract every runner drives: ``Policy``, ``PolicyOutput``, ...)
 5. ``locomotion`` (the locomotion backends behind one interface)
 6. ``tasks`` (tasks, subgoal checks, expert, the trial loop) and ``vla`` (Stages II-III): a task
    never knows which policy drives it, the VLA never knows the task loop
 7. ``runtime`` (deployment over ZeroMQ; its GPU-side server loads the VLA)
 8. ``suite`` (the Table 2 analog, split rows, DAgger: what drives ``tasks`` with ``vla`` policies)
 9. applications: ``quickstart_config``, ``notebook_runner``; then ``quickstart``; then ``cli``

An in-function import of a wbvla module is allowed only with a comment on its line (or, for an
import over several lines, on one of them) that starts with ``# lazy:`` and says why (what heavy
import it keeps out of start-up). The graph counts them.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "wbvla"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("wbvla", "validation", "io", "paths", "compat"),
    ("sim", "viz", "training"),
    ("data",),
    ("lam", "lmo"),
    ("control",),
    ("locomotion",),
    ("tasks", "vla"),
    ("runtime",),
    ("suite",),
    ("quickstart_config", "notebook_runner"),
    ("quickstart",),
    ("cli",),
)
RANK = {component: i for i, layer in enumerate(LAYERS) for component in layer}

# Issue 19 part 5, in progress: what is still to be fixed. Every list shrinks to nothing, and an
# entry that no longer occurs fails the test, so none can go stale.
PENDING_COMPONENTS: dict[str, int] = {}
"""Components not renamed yet, with their layer."""
PENDING_UPWARD: set[str] = set()
PENDING_CYCLES: set[tuple[str, ...]] = set()
PENDING_LAZY: tuple[str, ...] = ()
"""Folders whose in-function imports are not tagged yet."""
RANK.update(PENDING_COMPONENTS)
LAZY_TAG = "# lazy:"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def component(module: str) -> str:
    """``wbvla.vla.policy`` -> ``vla``; ``wbvla.io`` -> ``io``; ``wbvla`` -> ``wbvla``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


class ImportGraph:
    """Every import of a wbvla module by a wbvla module (top-level and in-function)."""

    def __init__(self, package: Path = PACKAGE):
        self.package = package
        self.files = {module_name(p, package): p for p in sorted(package.rglob("*.py"))}
        self.edges: list[tuple[str, str, int, bool]] = []  # (importer, imported, line, in a function)
        self.untagged_lazy: list[str] = []
        self.lazy: list[str] = []
        for mod, path in self.files.items():
            self._scan(mod, path)

    def _resolve(self, name: str) -> str | None:
        while name and name not in self.files:
            name = name.rpartition(".")[0]
        return name or None

    def _targets(self, mod: str, path: Path, node: ast.AST) -> set[str]:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                pkg = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
            # ``from X import a``: the module X.a if there is one, else the name a of module X
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in self.files else base for a in node.names]
        out = set()
        for name in names:
            if name == "wbvla" or name.startswith("wbvla."):
                target = self._resolve(name)
                if target and target != mod:
                    out.add(target)
        return out

    def _scan(self, mod: str, path: Path) -> None:
        text = path.read_text()
        lines = text.splitlines()
        tree = ast.parse(text, str(path))
        in_function = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                       for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            targets = self._targets(mod, path, node)
            lazy = id(node) in in_function
            for t in sorted(targets):
                self.edges.append((mod, t, node.lineno, lazy))
            if lazy and targets:
                where = f"{path.relative_to(self.package.parent)}:{node.lineno}"
                self.lazy.append(where)
                if not any(LAZY_TAG in line for line in lines[node.lineno - 1 : node.end_lineno]):
                    self.untagged_lazy.append(where)

    def module_edges(self) -> dict[str, set[str]]:
        """Importer -> imported, including the package ``__init__`` files an import runs."""
        out: dict[str, set[str]] = defaultdict(set)
        for a, b, _, _ in self.edges:
            out[a].add(b)
            for parent in _parents(b):
                if parent != "wbvla" and parent in self.files and not a.startswith(parent + ".") and parent != a:
                    out[a].add(parent)
        return out

    def upward(self) -> list[str]:
        """Imports that run up the layers (or sideways between two components of one layer)."""
        bad = []
        for a, b, line, _ in self.edges:
            ca, cb = component(a), component(b)
            if ca == cb or cb == "wbvla":
                continue
            if ca not in RANK or cb not in RANK:
                bad.append(f"{a} -> {b}: component {ca if ca not in RANK else cb!r} is in no layer")
            elif RANK[cb] >= RANK[ca] and (self.package != PACKAGE or f"{a} -> {b}" not in PENDING_UPWARD):
                bad.append(f"{a}:{line} -> {b} ({ca} is layer {RANK[ca]}, {cb} layer {RANK[cb]})")
        return sorted(set(bad))

    def cycles(self) -> list[list[str]]:
        """Strongly connected components with more than one module (Tarjan)."""
        graph = self.module_edges()
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        out: list[list[str]] = []

        def visit(v: str) -> None:  # recursion depth is bounded by the module count (~150)
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in sorted(graph.get(v, ())):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                scc = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    scc.append(w)
                    if w == v:
                        break
                if len(scc) > 1:
                    out.append(sorted(scc))

        for v in sorted(self.files):
            if v not in index:
                visit(v)
        return out

    def summary(self) -> str:
        comps = {component(m) for m in self.files}
        pairs = {(a, b) for a, b, _, _ in self.edges}
        comp_pairs = {(component(a), component(b)) for a, b in pairs if component(a) != component(b)}
        layers = "\n".join(f"  {i:2d}: {', '.join(layer)}" for i, layer in enumerate(LAYERS))
        return (f"{len(self.files)} modules in {len(comps)} components; {len(pairs)} module import edges, "
                f"{len(comp_pairs)} between components; {len(self.lazy)} in-function imports of wbvla modules\n"
                f"layers (lowest first):\n{layers}")


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return ImportGraph()


def test_every_component_has_a_layer(graph):
    missing = sorted({component(m) for m in graph.files} - set(RANK))
    assert not missing, f"components in no layer: {missing}\n{graph.summary()}"


def test_pending_lists_are_current(graph):
    """Every entry of the PENDING lists still occurs (remove it once fixed)."""
    comps = {component(m) for m in graph.files}
    assert set(PENDING_COMPONENTS) <= comps, f"renamed already: {set(PENDING_COMPONENTS) - comps}"
    pairs = {f"{a} -> {b}" for a, b, _, _ in graph.edges}
    assert PENDING_UPWARD <= pairs, f"fixed already: {sorted(PENDING_UPWARD - pairs)}"
    cycles = {tuple(c) for c in graph.cycles()}
    assert PENDING_CYCLES <= cycles, f"fixed already: {PENDING_CYCLES - cycles}"
    pending = [w for w in graph.untagged_lazy if w.startswith(PENDING_LAZY)]
    assert all(any(w.startswith(p) for w in pending) for p in PENDING_LAZY), f"tagged already: {PENDING_LAZY}"


def test_no_import_runs_up_the_layers(graph):
    bad = graph.upward()
    assert not bad, f"{len(bad)} imports run up (or sideways):\n" + "\n".join(bad) + "\n" + graph.summary()


def test_no_import_cycles(graph):
    cycles = [c for c in graph.cycles() if tuple(c) not in PENDING_CYCLES]
    assert not cycles, "import cycles (counting in-function imports):\n" + "\n".join(
        " <-> ".join(c) for c in cycles) + "\n" + graph.summary()


def test_in_function_imports_say_why(graph):
    bad = [w for w in graph.untagged_lazy if not w.startswith(PENDING_LAZY)]
    assert not bad, (f"{len(bad)} of {len(graph.lazy)} in-function imports of wbvla modules have no "
                     f"'{LAZY_TAG} <why>' comment on their line:\n" + "\n".join(bad) + "\n" + graph.summary())


def test_the_checker_sees_violations(tmp_path):
    """The checker itself: an upward import, a cycle hidden in a function and an untagged lazy
    import in a toy package are all reported."""
    pkg = tmp_path / "wbvla"
    for sub in ("sim", "vla"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "sim" / "a.py").write_text("from wbvla.vla.b import x\n")
    (pkg / "vla" / "b.py").write_text("def f():\n    from wbvla.sim.a import y\n    return y\n")
    (pkg / "vla" / "c.py").write_text("def g():\n    import wbvla.sim.a  # lazy: mujoco\n")
    g = ImportGraph(pkg)
    assert g.upward() == ["wbvla.sim.a:1 -> wbvla.vla.b (sim is layer 1, vla layer 6)"]
    assert g.cycles() == [["wbvla.sim.a", "wbvla.vla.b"]]
    assert g.untagged_lazy == ["wbvla/vla/b.py:2"] and len(g.lazy) == 2

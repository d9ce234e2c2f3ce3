"""The shape of the code, checked like behaviour: no import cycles, small modules.

The layers themselves are import-linter contracts in pyproject.toml (`lint-imports`, run by
`make test`); this checks what those contracts cannot express.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("syncd", "connectors", "state")
MAX_MODULE_LINES = 400


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c in graph.modules), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@pytest.mark.parametrize("packages", [PRODUCT, ("emulators",)], ids=["product", "emulators"])
def test_no_module_takes_part_in_an_import_cycle(packages):
    """Not even one hidden in a function or behind TYPE_CHECKING: a cycle is a design bug."""
    graph = grimp.build_graph(*packages)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [["a.x", "a.y"]]


@pytest.mark.parametrize("package", [*PRODUCT, "emulators"])
def test_every_module_is_a_few_hundred_lines_at_most(package):
    long = {str(path.relative_to(ROOT)): n for path in (ROOT / package).rglob("*.py")
            if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"split these by concern: {long}"


def test_no_file_carries_a_merge_conflict_marker():
    """A merge resolved by hand can leave its markers in prose (README, ARCHITECTURE) where no
    import or test would trip over them."""
    suffixes = {".py", ".md", ".yaml", ".yml", ".toml", ".html", ".js", ".css", ".cfg", ".txt", ""}
    skip = {".git", ".venv", "node_modules", "__pycache__", ".pytest_cache"}
    markers = ("<<<<<<< ", ">>>>>>> ")
    found = [f"{path.relative_to(ROOT)}:{number}"
             for path in ROOT.rglob("*")
             if path.is_file() and path.suffix in suffixes and not skip & set(path.relative_to(ROOT).parts)
             and path.stat().st_size < 1_000_000
             for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if line.startswith(markers) or line == "======="]
    assert found == []

"""The shape of agent/: no import cycles, and no import from a lower layer up to a higher one.

Every module of agent/ is parsed with `ast` (nothing is imported): each `import` and `from … import` counts,
at any depth (inside functions too), except under `if TYPE_CHECKING:`. `from agent.x import y` counts as an
import of agent.x.y when that is a module, else of agent.x. Importing a module does not count as importing its
parent packages' `__init__` (they hold nothing that imports back).

Layers, lowest first: protocol, config, errors and the neutral helpers (fileio, processes); safety/; tools/;
the session; front ends (exec, tui/) and cli.py. A lower layer never imports a higher one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

AGENT = Path(__file__).resolve().parent.parent / "agent"


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} imports {self.imported} (line {self.line})"


def module_name(path: Path) -> str:
    parts = path.relative_to(AGENT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(AGENT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import under node, at any depth, leaving out the body of `if TYPE_CHECKING:` (not its else)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _import_nodes_of(other)
            continue
        yield from _import_nodes_of(child)


def _import_nodes_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    yield from _import_nodes(node)


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


@cache
def imports_of(module: str) -> tuple[Import, ...]:
    """All imports `module` makes (of any module, inside agent or not), in file order."""
    path = modules()[module]
    tree = ast.parse(path.read_text(), str(path))
    found: list[Import] = []
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
            continue
        source = _absolute(module, node, path.name == "__init__.py")
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            found.append(Import(module, submodule if submodule in modules() else source, node.lineno))
    return tuple(found)


def internal_imports(module: str) -> tuple[Import, ...]:
    return tuple(i for i in imports_of(module) if i.imported in modules() and i.imported != module)


def import_graph() -> dict[str, set[str]]:
    return {module: {i.imported for i in internal_imports(module)} for module in modules()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle for each strongly connected component with more than one module (Tarjan's algorithm, then a
    shortest path back to the start inside the component), as a chain that begins and ends with one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_chain(graph, component) for component in components]


def _chain(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        node = frontier.pop(0)
        for target in sorted(graph[node] & component):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                frontier.append(target)
    raise AssertionError(f"no cycle through {start}")


def describe(chain: list[str]) -> str:
    lines = []
    for importer, imported in zip(chain, chain[1:], strict=False):
        line = next(i.line for i in internal_imports(importer) if i.imported == imported)
        lines.append(f"{importer} --(line {line})--> {imported}")
    return " ; ".join(lines)


def test_the_parser_sees_imports_inside_functions_and_skips_type_checking_blocks() -> None:
    imported = {i.imported for i in internal_imports("agent.mcp.tool_call")}
    assert "agent.tools.truncation" in imported  # a top-level import
    assert "agent.tools.context" not in imported  # under `if TYPE_CHECKING:`
    assert "agent.mcp.tool_call" in {i.imported for i in internal_imports("agent.tools.registry")}  # in a function


def test_the_cycle_finder_reports_a_readable_chain() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]


def test_no_import_cycles_among_agent_modules() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(chain) + "\n    " + describe(chain) for chain in found)


def _violations(importers: Iterator[str], forbidden: tuple[str, ...]) -> list[str]:
    return [str(i) for module in importers for i in imports_of(module)
            if any(i.imported == name or i.imported.startswith(name + ".") for name in forbidden)]


def _in(package: str, module: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_safety_imports_nothing_from_tools_tui_or_cli() -> None:
    safety = (m for m in modules() if _in("agent.safety", m))
    assert _violations(safety, ("agent.tools", "agent.tui", "agent.cli")) == []


def test_tools_import_no_session_front_end_or_cli() -> None:
    tools = (m for m in modules() if _in("agent.tools", m))
    assert _violations(tools, ("agent.session", "agent.exec", "agent.tui", "agent.cli")) == []


def test_only_cli_imports_the_tui_from_outside_it() -> None:
    outside = (m for m in modules() if not _in("agent.tui", m) and m != "agent.cli")
    assert _violations(outside, ("agent.tui",)) == []


def test_no_core_module_imports_textual() -> None:
    core = (m for m in modules() if not _in("agent.tui", m))
    assert _violations(core, ("textual",)) == []

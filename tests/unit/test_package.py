from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path


def test_the_four_classes_import_from_neulora_without_heavy_libraries() -> None:
    code = ("import sys; from neulora import CentroidRouter, ChromaRetriever, HFStyleClient, Pipeline; "
            "from neulora.embedders import HashingEmbedder, TransformersEmbedder, HFInferenceEmbedder; "
            "print(sorted(m for m in ('chromadb', 'torch', 'transformers', 'huggingface_hub') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_exported_name_exists() -> None:
    import neulora

    assert all(hasattr(neulora, name) for name in neulora.__all__)
    assert issubclass(neulora.errors.RouterFileError, neulora.ConfigError) and issubclass(neulora.ConfigError, ValueError)


PACKAGE = Path(__file__).resolve().parents[2] / "neulora"


def package_imports() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere (lazy imports too), ``if TYPE_CHECKING`` blocks aside."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        name = "neulora" if path.stem == "__init__" else f"neulora.{path.stem}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(
            node.test) for child in node.body for n in ast.walk(child)}
        found: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found.add(f"neulora.{node.module}" if node.module else "neulora")
                if not node.module:
                    found.update(f"neulora.{a.name}" for a in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("neulora"):
                found.add(node.module or "")
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("neulora"))
        graph[name] = found - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_has_no_import_cycle_not_even_through_lazy_imports() -> None:
    graph = package_imports()
    graph.pop("neulora")  # the package itself re-exports everything: it is the top, nothing imports it
    assert all("neulora" not in deps for deps in graph.values()), "modules import siblings, not the package"
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = package_imports()
    graph["neulora._styles"] = {*graph["neulora._styles"], "neulora.pipeline"}  # as if styles imported pipeline
    assert find_cycle(graph) is not None


def test_configuration_never_imports_the_pipeline_or_the_demo() -> None:
    graph = package_imports()
    reach, todo = set(), ["neulora._assemble"]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in reach:
                reach.add(dep)
                todo.append(dep)
    assert "neulora.pipeline" not in reach and "neulora.cli" not in reach


def test_public_classes_stay_small() -> None:
    # A module is as long as its one idea needs (no line budget); a public class keeps a small surface.
    import neulora

    wide = {}
    for name in neulora.__all__:
        obj = getattr(neulora, name)
        if isinstance(obj, type) and not issubclass(obj, BaseException) and obj.__module__.startswith("neulora"):
            fields = set(getattr(obj, "__dataclass_fields__", ()))
            public = [m for m in vars(obj) if not m.startswith("_") and m not in fields]
            if len(public) > 13:
                wide[name] = len(public)
    assert wide == {}

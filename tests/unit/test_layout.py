"""The package's shape, held against the code.

Layers, no cycles, what is public, what importing costs.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "neulora"

# Each layer may import its own and the ones below it, never one above (ARCHITECTURE.md draws them).
LAYERS = {
    "apps": ("neulora.cli", "neulora.server", "neulora.testing", "neulora.__main__"),
    "face": (
        "neulora.pipeline",
        "neulora._assemble",
        "neulora.router",
        "neulora.retrieval",
        "neulora.llm",
        "neulora.settings",
        "neulora.protocols",
    ),
    "parts": (
        "neulora.turn",
        "neulora.train",
        "neulora.store",
        "neulora.routing",
        "neulora.embedders",
        "neulora.memory",
        "neulora.generation",
        "neulora.hf",
        "neulora.eval",
    ),
    "edges": (
        "neulora._flow",
        "neulora._pump",
        "neulora._deadline",
        "neulora._streams",
        "neulora._checks",
        "neulora._redact",
        "neulora._styles",
        "neulora._languages",
        "neulora._compat",
        "neulora.errors",
    ),
}
RANK = {"package": 4, "apps": 3, "face": 2, "parts": 1, "edges": 0}
PARTS = LAYERS["parts"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    if module == "neulora":
        return "package"  # its names load lazily, by name: above everything
    for layer, prefixes in LAYERS.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return layer
    raise AssertionError(f"{module} is in no layer: add it to LAYERS and to ARCHITECTURE.md")


def part_of(module: str) -> str:
    return next(
        p for p in (*LAYERS["apps"], *PARTS, module) if module == p or module.startswith(p + ".")
    )


def resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The package modules an ``import from`` names (a name that is a submodule counts as one)."""
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("neulora"):
        return []
    # ``from . import _flow`` names the module, not the package
    found = [target] if node.module else []
    for alias in node.names:
        candidate = f"{target}.{alias.name}"
        if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists() or (
            PACKAGE.parent / candidate.replace(".", "/")
        ).is_dir():
            found.append(candidate)
    return found


def package_imports() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere (lazy too), ``if TYPE_CHECKING`` aside."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for child in node.body
            for n in ast.walk(child)
        }
        found: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom):
                found.update(resolve(name, path.name == "__init__.py", node))
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
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_module_takes_part_in_an_import_cycle_not_even_through_lazy_imports() -> None:
    graph = package_imports()
    graph.pop("neulora")  # the package's names load lazily, by name: it is the top
    assert all("neulora" not in deps for deps in graph.values()), (
        "modules import their parts, not the package"
    )
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = package_imports()
    # as if styles imported pipeline
    graph["neulora._styles"] = {
        *graph["neulora._styles"],
        "neulora.pipeline",
    }
    assert find_cycle(graph) is not None


def test_arrows_point_down_the_layers_never_up() -> None:
    upward = []
    for module, deps in package_imports().items():
        if module == "neulora":
            continue
        for dep in deps:
            if dep != "neulora" and RANK[layer_of(dep)] > RANK[layer_of(module)]:
                upward.append(f"{module} ({layer_of(module)}) -> {dep} ({layer_of(dep)})")
    assert upward == []


def test_the_parts_depend_on_each_other_without_a_circle() -> None:
    between: dict[str, set[str]] = {}
    for module, deps in package_imports().items():
        if layer_of(module) != "parts":
            continue
        mine = part_of(module)
        between.setdefault(mine, set()).update(
            part_of(d) for d in deps if layer_of(d) == "parts" and part_of(d) != mine
        )
    cycle = find_cycle(between)
    assert cycle is None, f"parts in a circle: {' -> '.join(cycle or [])}"


def test_a_planted_upward_arrow_is_caught() -> None:
    assert RANK[layer_of("neulora.pipeline")] > RANK[layer_of("neulora.store._collection")]
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("neulora.somewhere_new")


def test_every_module_is_in_a_layer_and_internal_ones_are_underscored() -> None:
    public_faces = {m for m in LAYERS["face"] if not m.rsplit(".", 1)[-1].startswith("_")}
    for path in PACKAGE.rglob("*.py"):
        module = module_name(path)
        layer_of(module)
        last = module.rsplit(".", 1)[-1]
        is_part_package = module in (*PARTS, *LAYERS["apps"])
        if (
            module == "neulora"
            or is_part_package
            or module in public_faces
            or module == "neulora.errors"
        ):
            continue
        assert last.startswith("_"), f"{module}: an internal module starts with an underscore"


def test_configuration_never_imports_the_pipeline_or_the_apps() -> None:
    graph = package_imports()
    reach = set()
    todo = ["neulora._assemble"]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in reach:
                reach.add(dep)
                todo.append(dep)
    assert "neulora.pipeline" not in reach
    assert not any(layer_of(m) == "apps" for m in reach)


# -- what is public (in the spirit of httpx's tests/test_exported_members.py)
# ----------------------------------
PUBLIC_MODULES = (
    "neulora",
    *[m for m in LAYERS["face"] if not m.rsplit(".", 1)[-1].startswith("_")],
    *PARTS,
    "neulora.cli",
    "neulora.server",
    "neulora.testing",
    "neulora.errors",
)


def test_the_package_exports_at_most_thirty_names() -> None:
    import neulora

    assert len(neulora.__all__) <= 30
    assert len(set(neulora.__all__)) == len(neulora.__all__)
    assert set(neulora.__all__) == set(neulora._NAMES), (
        "__all__ lists exactly the names the package loads"
    )


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_module_lists_what_it_exports_and_holds_it(module: str) -> None:
    loaded = importlib.import_module(module)
    exported = getattr(loaded, "__all__", None)
    assert exported, f"{module} says what it exports (__all__)"
    for name in exported:
        member = getattr(loaded, name)
        if callable(member) and not isinstance(member, type(sys)):
            assert getattr(member, "__module__", "neulora").startswith("neulora"), (
                f"{module}.{name}"
            )


def test_internal_modules_export_nothing_by_list() -> None:
    listed = []
    for path in PACKAGE.rglob("_*.py"):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        if "__all__" in {
            t.id
            for node in ast.parse(path.read_text(encoding="utf-8")).body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }:
            listed.append(module_name(path))
    assert listed == [], "an internal module's names are reached through its part's __init__"


def test_import_neulora_loads_only_the_package_and_no_library() -> None:
    code = (
        "import sys; before = set(sys.modules); import neulora; "
        "print(sorted(m for m in set(sys.modules) - before if m.startswith('neulora') or m in "
        "('asyncio', 'numpy', 'chromadb', 'huggingface_hub', 'torch', 'transformers', 'httpx2')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['neulora', 'neulora._compat']"


def test_a_name_loads_what_it_needs_and_no_heavy_library() -> None:
    code = (
        "import sys; from neulora import CentroidRouter, ChromaRetriever, HFStyleClient, Pipeline; "
        "from neulora.embedders import HashingEmbedder, TransformersEmbedder, HFInferenceEmbedder; "
        "print(sorted(m for m in ('chromadb', 'torch', 'transformers', 'huggingface_hub') if m in "
        "sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


OLD_PATHS = """
import warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    from neulora.embeddings import HashingEmbedder
    from neulora.memory_redis import RedisMemory
    from neulora.serve import create_app
    from neulora.hf import classify
    from neulora import STYLES, QuotaError
    import neulora.collection
import neulora.embedders, neulora.memory, neulora.server, neulora.hf._errors
import neulora.errors, neulora.router
assert HashingEmbedder is neulora.embedders.HashingEmbedder
assert RedisMemory is neulora.memory.RedisMemory
assert create_app is neulora.server.create_app
assert classify is neulora.hf._errors.classify
assert QuotaError is neulora.errors.QuotaError and STYLES == neulora.router.STYLES
assert neulora.collection.ChromaCollection is neulora.store.ChromaCollection
print(len([w for w in caught if "goes in the next release" in str(w.message)]))
print(caught[0].filename)
"""


def test_old_import_paths_still_work_for_one_release_and_warn(tmp_path: Path) -> None:
    script = tmp_path / "old_paths.py"
    script.write_text(OLD_PATHS, encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    count, where = out.stdout.split()
    assert int(count) == 7, out.stdout
    assert where == str(script), "the warning points at the line that imports the old path"


def test_an_unknown_old_name_is_an_attribute_error_not_a_warning() -> None:
    import neulora.hf

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
            neulora.hf.no_such_thing  # noqa: B018


def test_pipeline_takes_at_most_ten_parameters_and_the_turn_methods_share_their_options() -> None:
    import inspect

    from neulora import Pipeline

    assert len(inspect.signature(Pipeline.__init__).parameters) - 1 <= 10
    for method in (Pipeline.ask, Pipeline.stream, Pipeline.aask, Pipeline.astream):
        assert list(inspect.signature(method).parameters) == [
            "self",
            "question",
            "session_id",
            "options",
        ]


def test_errors_refine_the_builtins_callers_expect() -> None:
    from neulora import ConfigError, NeuloraError
    from neulora.errors import RouterFileError

    assert issubclass(RouterFileError, ConfigError) and issubclass(ConfigError, ValueError)
    assert issubclass(ConfigError, NeuloraError)


def test_public_classes_stay_small() -> None:
    # A module is as long as its one idea needs (no line budget); a public class keeps a small
    # surface.
    import neulora

    wide = {}
    for name in neulora.__all__:
        obj = getattr(neulora, name)
        if isinstance(obj, type) and not issubclass(obj, BaseException):
            fields = set(getattr(obj, "__dataclass_fields__", ()))
            public = [m for m in vars(obj) if not m.startswith("_") and m not in fields]
            if len(public) > 13:
                wide[name] = len(public)
    assert wide == {}


EDGES = {m.split(".")[1] for m in LAYERS["edges"]}


def drawn_arrows() -> dict[str, set[str]]:
    """The arrows ARCHITECTURE.md draws between parts, faces and apps (the edges aside)."""
    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    block = text.split("```\n", 2)[1]
    arrows: dict[str, set[str]] = {}
    last: list[str] = []  # the sources of the arrow a continued line goes on with
    for line in block.splitlines():
        body = line[8:]  # past the layer's name
        for segment in re.split(r"\s{3,}", body.strip()):
            if "──>" in segment:
                left, right = segment.split("──>")
                last = [s.strip().rstrip("/").removesuffix(".py") for s in left.split(",")]
            elif last and segment.rstrip().endswith("/"):
                right = segment
            else:
                continue
            right = re.sub(r"\([^)]*\)", "", right)
            targets = {t.strip().rstrip("/").removesuffix(".py") for t in right.split(",")}
            for name in last:
                arrows.setdefault(name, set()).update(t for t in targets if t and t != "edges only")
    return arrows


def actual_arrows() -> dict[str, set[str]]:
    """The same, read from the code: which part, face or app imports which."""

    def group(module: str) -> str:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else "neulora"

    arrows: dict[str, set[str]] = {}
    for module, deps in package_imports().items():
        source = group(module)
        if source in EDGES or source in ("neulora", "__main__", "errors"):
            continue
        targets = {group(d) for d in deps} - EDGES - {source, "errors", "neulora"}
        arrows.setdefault(source, set()).update(targets)
    return arrows


def test_architecture_md_draws_the_arrows_the_code_has() -> None:
    drawn, actual = drawn_arrows(), actual_arrows()
    missing = {
        s: sorted(t - drawn.get(s, set())) for s, t in actual.items() if t - drawn.get(s, set())
    }
    extra = {
        s: sorted(t - actual.get(s, set())) for s, t in drawn.items() if t - actual.get(s, set())
    }
    assert missing == {} and extra == {}, (
        f"not drawn: {missing}; drawn but not in the code: {extra}"
    )

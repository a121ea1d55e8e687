"""A user's install: ``pip install`` into a fresh virtual environment, then the README's snippet.

Slow (a fresh venv with torch's CPU build), and it needs the package registry, as a user's install
does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def run(
    *argv: str | Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, (
        f"{argv} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


def readme_block(language: str, after: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text.split(after, 1)[1], flags=re.S)[0]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("user") / "venv"
    run(sys.executable, "-m", "venv", folder)
    return folder


def source_tree(into: Path) -> Path:
    """The project's files as a clean checkout has them (no build/, no egg-info, nothing ignored).

    pip builds in place, and setuptools reuses a build/ folder: a stale one would put files that
    no longer exist into the wheel.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        source = REPO / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def test_the_build_warns_of_nothing_and_the_metadata_is_whole(venv: Path, tmp_path: Path) -> None:
    python = venv / "bin" / "python"
    source = source_tree(tmp_path / "source")
    built = run(python, "-m", "pip", "wheel", "--no-deps", "-v", "-w", tmp_path, source)
    log = built.stdout + built.stderr
    assert "Warning" not in "\n".join(
        line
        for line in log.splitlines()
        if "BuildBackendWarning" in line or "SetuptoolsDeprecationWarning" in line
    ), log[-3000:]
    assert "is absent from the packages configuration" not in log
    wheel = next(tmp_path.glob("neulora-*.whl"))
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert any(n.endswith("licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
    assert (
        any(n.startswith("neulora/data/corpus/") for n in names)
        and "neulora/server/page.html" in names
    )
    packaged = {n for n in names if n.startswith("neulora/")}
    assert packaged <= {str(p.relative_to(source)) for p in (source / "neulora").rglob("*")}
    for field in ("Home-page: ", "Author: ", "License: MIT", "Project-URL: ", "Classifier: "):
        assert field in meta, field
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist: ")]
    core = [r for r in requires if "extra ==" not in r]
    # only the extras that use them
    assert not any("transformers" in r or "torch" in r for r in core), core
    assert any("pydantic" in r and 'extra == "serve"' in r for r in requires)


def test_the_readme_install_and_snippet_work_offline(venv: Path, tmp_path: Path) -> None:
    python = venv / "bin" / "python"
    install = readme_block("bash", "# neulora").splitlines()[0].split("#")[0].strip()
    assert install == "pip install 'neulora[local]'"
    # the CPU build, as the README says
    run(python, "-m", "pip", "install", "--quiet", "torch==2.13.0")
    run(python, "-m", "pip", "install", "--quiet", f"{REPO}[local]")
    snippet = readme_block("python", "# neulora")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "NEULORA_"))}
    env.update(HF_HUB_OFFLINE="1", HOME=str(tmp_path))  # no token, no hub: the offline path
    out = run(python, "-c", snippet, cwd=tmp_path, env=env).stdout
    assert len(out.split()) >= 3 and "\ufffd" not in out
    shown = run(python, "-m", "pip", "show", "neulora", env=env).stdout
    assert "Home-page: " in shown and "Author: The neulora authors" in shown

"""The README's promises that code can check: its two commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    """The command lines of the bash blocks under "The two commands"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_the_readme_has_exactly_two_commands() -> None:
    assert readme_commands() == [
        "bash scripts/setup.sh && .venv/bin/neulora demo",
        ".venv/bin/python -m pytest -q",
    ]


def test_ci_runs_the_readme_commands_as_written_in_order() -> None:
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    # ValueError: a command CI does not run
    positions = [ci.index(command) for command in readme_commands()]
    assert positions == sorted(positions)


def test_the_commands_name_files_that_exist() -> None:
    for command in readme_commands():
        for script in re.findall(r"scripts/\S+\.sh", command):
            assert (ROOT / script).is_file(), script


def test_ci_checks_the_format_the_lint_and_the_types() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for check in ("ruff format --check", "ruff check", "mypy"):
        assert f".venv/bin/{check}" in ci, check


def test_every_test_file_the_docs_and_scripts_name_exists() -> None:
    named = set()
    places = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", ROOT / ".ci" / "run"]
    places += [*(ROOT / "scripts").glob("*.sh"), *(ROOT / "neulora").rglob("*.py")]
    for place in places:
        named.update(re.findall(r"tests/[\w/]+\.py", place.read_text(encoding="utf-8")))
    assert named, "the docs name test files"
    assert sorted(n for n in named if not (ROOT / n).is_file()) == []

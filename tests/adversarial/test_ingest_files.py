"""Folder ingest meets hostile files.

Names that are not UTF-8, FIFOs, symbolic links leading out of the folder.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from neulora import ChromaRetriever
from neulora.embedders import HashingEmbedder
from neulora.store import collect_files, read_documents

T = TypeVar("T")

GOOD_TEXT = (
    "# Limits\n\nA limit is the value a function approaches as its input approaches a point."
)


def finishes(call: Callable[[], T], *, unblock: Path | None = None, seconds: float = 20.0) -> T:
    """``call()`` run in a thread.

    Fails the test if it has not returned within ``seconds`` (a hang).
    """
    outcome: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # handed to the test's thread, raised there
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        # open the FIFO's write end so that the stuck reader sees EOF and the thread ends
        if unblock is not None:
            os.close(os.open(unblock, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"hung for more than {seconds}s")
    if errors:
        raise errors[0]
    return outcome[0]


def bad_name(folder: Path) -> Path:
    """A file whose name is not valid UTF-8 (byte 0xff), created through the bytes API."""
    raw = os.path.join(os.fsencode(folder), b"bad\xff.md")
    fd = os.open(raw, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"# Bad\n\nThis text is fine; only the name is not UTF-8.")
    os.close(fd)
    return Path(os.fsdecode(raw))


def reasons(problems: list[tuple[str, str]]) -> dict[str, str]:
    return {Path(path).name: reason for path, reason in problems}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "good.md").write_text(GOOD_TEXT, encoding="utf-8")
    return folder


def test_a_file_name_that_is_not_utf8_is_failed_with_a_reason_and_the_others_are_kept(
    folder: Path,
) -> None:
    bad_name(folder)
    files, problems, _ = collect_files([folder])
    assert files == [(folder / "good.md").resolve()]
    ((path, reason),) = problems
    # the report can be printed and stored
    assert path.endswith("bad\\xff.md") and path.encode("utf-8")
    assert "not valid UTF-8" in reason and "rename" in reason
    docs, failed, _ = read_documents(folder)
    assert [Path(d.source).name for d in docs] == ["good.md"] and failed == problems


def test_a_file_name_that_is_not_utf8_named_directly_is_failed(folder: Path) -> None:
    files, problems, _ = collect_files([bad_name(folder)])
    assert files == [] and "not valid UTF-8" in problems[0][1]


def test_a_fifo_in_the_folder_is_skipped_with_a_reason_and_never_opened(folder: Path) -> None:
    os.mkfifo(folder / "x.md")
    files, problems, _ = finishes(lambda: collect_files([folder]), unblock=folder / "x.md")
    assert files == [(folder / "good.md").resolve()]
    assert "not a regular file" in reasons(problems)["x.md"]
    docs, failed, _ = finishes(lambda: read_documents(folder), unblock=folder / "x.md")
    assert len(docs) == 1 and "x.md" in reasons(failed)


def test_a_fifo_named_directly_does_not_hang(folder: Path) -> None:
    os.mkfifo(folder / "x.md")
    docs, failed, _ = finishes(
        lambda: read_documents([folder / "x.md", folder / "good.md"]), unblock=folder / "x.md"
    )
    assert [Path(d.source).name for d in docs] == ["good.md"]
    assert "not a regular file" in reasons(failed)["x.md"]


def test_symlinks_inside_the_folder_are_followed_and_those_leading_out_are_skipped(
    folder: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.md").write_text("# Secret\n\nnot for the tutor", encoding="utf-8")
    (folder / "sub").mkdir()
    (folder / "sub" / "alias.md").symlink_to(folder / "good.md")  # inside: fine (and read once)
    # inside: its files come anyway
    (folder / "inner").symlink_to(folder / "sub", target_is_directory=True)
    (folder / "leak.md").symlink_to(outside / "secret.md")
    (folder / "leakdir").symlink_to(outside, target_is_directory=True)
    (folder / "dangling.md").symlink_to(tmp_path / "missing.md")
    (folder / "loop.md").symlink_to(folder / "loop.md")
    files, problems, _ = collect_files([folder])
    assert files == [(folder / "good.md").resolve()]
    why = reasons(problems)
    assert set(why) == {"leak.md", "leakdir", "dangling.md", "loop.md"}
    assert (
        "outside" in why["leak.md"]
        and "outside" in why["leakdir"]
        and "not followed" in why["leak.md"]
    )
    assert "broken symbolic link" in why["dangling.md"] and "broken symbolic link" in why["loop.md"]
    # A link the caller names directly is the caller's choice: it is read.
    assert collect_files([folder / "leak.md"]) == ([(outside / "secret.md").resolve()], [], [])


def test_folder_ingest_into_chroma_stores_the_good_file_and_reports_the_bad_ones(
    folder: Path, tmp_path: Path
) -> None:
    bad_name(folder)
    os.mkfifo(folder / "x.md")
    (tmp_path / "elsewhere.md").write_text("# Elsewhere\n\nOutside the folder.", encoding="utf-8")
    (folder / "link.md").symlink_to(tmp_path / "elsewhere.md")
    retriever = ChromaRetriever(HashingEmbedder(), path=tmp_path / "db", k=3)
    report = finishes(lambda: retriever.ingest([folder], progress=False), unblock=folder / "x.md")
    assert (
        report.added == 1
        and report.chunks_written > 0
        and retriever.count() == report.chunks_written
    )
    assert [Path(s).name for s in retriever.sources()] == ["good.md"]
    why = reasons(list(report.failed))
    assert set(why) == {"bad\\xff.md", "x.md", "link.md"}
    assert "not valid UTF-8" in why["bad\\xff.md"] and "not a regular file" in why["x.md"]
    assert "outside" in why["link.md"]
    assert "bad\\xff.md" in report.format()
    assert Path(retriever.retrieve("what is a limit", k=1)[0].source).name == "good.md"

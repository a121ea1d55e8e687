from __future__ import annotations

import json

import pytest

from neulora.store import Document
from neulora.store._chunking import ChunkingOptions, ChunkMeta
from neulora.store._ingest import IngestPlan, IngestReport, PlannedChunk, StoredSource, plan_ingest

OPTIONS = ChunkingOptions(size=60, overlap=0)
NOTES = "\n".join(
    [
        "# 로그",
        "로그는 지수의 역연산이다.",
        "",
        "# 수열",
        "등차수열은 차가 일정한 수열이다.",
        "",
        "# 극한",
        "극한은 가까워지는 값이다.",
    ]
)


def doc(text: str = NOTES, *, source: str = "/notes/math.md", sha: str = "sha-1") -> Document:
    return Document(source, ((text, None),), sha)


def stored_after(plan: IngestPlan, *, drop: int = 0) -> dict[str, StoredSource]:
    """What the store holds once ``plan`` is carried out.

    Less its last ``drop`` new chunks: a killed ingest.
    """
    chunks = [*plan.to_keep, *plan.to_add][: len(plan.to_keep) + len(plan.to_add) - drop]
    by_source: dict[str, StoredSource] = {}
    for c in chunks:
        meta = ChunkMeta.from_metadata(c.metadata)
        held = by_source.get(meta.source, StoredSource())
        by_source[meta.source] = StoredSource(
            held.ids | {c.id}, meta if meta.chunk == 0 else held.head
        )
    return by_source


def test_a_new_document_is_added_with_the_schema_on_every_chunk() -> None:
    plan = plan_ingest([doc()], {}, OPTIONS)
    assert plan.added == ("/notes/math.md",) and not (
        plan.unchanged or plan.replaced or plan.failed
    )
    assert not plan.to_keep and not plan.to_delete
    metas = [ChunkMeta.from_metadata(c.metadata) for c in plan.to_add]
    assert [m.section for m in metas] == ["로그", "수열", "극한"]
    assert metas[1] == ChunkMeta(
        source="/notes/math.md",
        title="math.md",
        section="수열",
        chunk=1,
        chunks=3,
        file_sha="sha-1",
        chunking="60/0",
        page=None,
    )
    assert "page" not in plan.to_add[0].metadata  # text files have no page
    assert len({c.id for c in plan.to_add}) == 3


def test_reingest_of_an_unchanged_document_plans_no_write() -> None:
    first = plan_ingest([doc()], {}, OPTIONS)
    again = plan_ingest([doc()], stored_after(first), OPTIONS)
    assert again.unchanged == ("/notes/math.md",) and not again.writes
    assert (again.to_add, again.to_keep, again.to_delete) == ((), (), ())


def test_an_edited_document_keeps_surviving_chunks_and_deletes_the_others() -> None:
    first = plan_ingest([doc()], {}, OPTIONS)
    edited = NOTES.replace("극한은 가까워지는 값이다.", "극한은 한없이 가까워지는 값이다.")
    plan = plan_ingest([doc(edited, sha="sha-2")], stored_after(first), OPTIONS)
    assert plan.replaced == ("/notes/math.md",) and not plan.added
    assert [c.text for c in plan.to_keep] == [
        "로그는 지수의 역연산이다.",
        "등차수열은 차가 일정한 수열이다.",
    ]
    assert [c.text for c in plan.to_add] == ["극한은 한없이 가까워지는 값이다."]
    assert plan.to_delete == (first.to_add[2].id,)
    # metadata refreshed
    assert {ChunkMeta.from_metadata(c.metadata).file_sha for c in plan.to_keep} == {"sha-2"}


def test_other_chunking_options_recut_an_unchanged_file() -> None:
    first = plan_ingest([doc()], {}, OPTIONS)
    plan = plan_ingest([doc()], stored_after(first), ChunkingOptions(size=200, overlap=0))
    assert plan.replaced == ("/notes/math.md",) and plan.unchanged == ()
    assert not plan.to_add and len(plan.to_keep) == 3  # the cut is the same here: the vectors stay
    assert {ChunkMeta.from_metadata(c.metadata).chunking for c in plan.to_keep} == {"200/0"}


def test_an_ingest_killed_midway_is_completed_on_the_next_run() -> None:
    first = plan_ingest([doc()], {}, OPTIONS)
    plan = plan_ingest([doc()], stored_after(first, drop=1), OPTIONS)
    assert plan.replaced == ("/notes/math.md",)
    assert [c.id for c in plan.to_add] == [first.to_add[2].id]
    assert [c.id for c in plan.to_keep] == [c.id for c in first.to_add[:2]] and not plan.to_delete


def test_a_document_without_text_fails_and_keeps_what_is_stored() -> None:
    first = plan_ingest([doc()], {}, OPTIONS)
    plan = plan_ingest(
        [doc("* \n---\n", sha="sha-2"), doc("새 노트.", source="/notes/new.md")],
        stored_after(first),
        OPTIONS,
    )
    assert plan.failed == (("/notes/math.md", "no text to index"),)
    assert plan.added == ("/notes/new.md",) and not plan.to_delete


def test_pdf_pages_are_recorded_and_the_same_text_on_two_pages_gets_two_ids() -> None:
    pdf = Document("/notes/scan.pdf", (("같은 문장.", 1), ("같은 문장.", 2)), "sha-pdf")
    plan = plan_ingest([pdf], {}, OPTIONS)
    assert [ChunkMeta.from_metadata(c.metadata).page for c in plan.to_add] == [1, 2]
    assert len({c.id for c in plan.to_add}) == 2


def test_the_section_heading_is_embedded_but_not_stored() -> None:
    chunk = plan_ingest([doc()], {}, OPTIONS).to_add[0]
    assert chunk.text == "로그는 지수의 역연산이다."
    assert chunk.embedding_text == "로그\n로그는 지수의 역연산이다."
    assert PlannedChunk("id", "no heading", {"source": "memo"}).embedding_text == "no heading"


def test_the_report_counts_the_plan_and_is_json_ready() -> None:
    first = plan_ingest([doc()], {}, OPTIONS)
    plan = plan_ingest(
        [doc(sha="sha-2"), doc("", source="/notes/empty.md")], stored_after(first), OPTIONS
    )
    report = IngestReport.of_plan(
        plan, failed=[("/x.bin", "unsupported file type '.bin'")], batches=[0], seconds=0.5
    )
    assert (report.replaced, report.added, report.chunks_written, report.chunks_deleted) == (
        1,
        0,
        0,
        0,
    )
    # unreadable files first
    assert [path for path, _ in report.failed] == [
        "/x.bin",
        "/notes/empty.md",
    ]
    data = json.loads(json.dumps(report.to_dict()))
    assert data["failed"] == [
        ["/x.bin", "unsupported file type '.bin'"],
        ["/notes/empty.md", "no text to index"],
    ]
    assert {"added", "unchanged", "replaced", "chunks_written", "chunks_deleted"} <= set(data)
    assert "replaced 1, unchanged 0, failed 2" in report.format()


def test_plans_read_well_in_a_repl() -> None:
    assert repr(plan_ingest([doc()], {}, OPTIONS)) == (
        "IngestPlan(unchanged=0, added=1, replaced=0, failed=0, to_add=3, to_keep=0, to_delete=0)"
    )


@pytest.mark.parametrize(
    "metadata", [{}, {"source": "memo", "chunk": "0", "page": True, "section": 3}]
)
def test_hand_written_metadata_reads_as_missing_fields(metadata: dict[str, object]) -> None:
    meta = ChunkMeta.from_metadata(metadata)
    assert (meta.chunk, meta.page, meta.section, meta.file_sha) == (None, None, "", None)

from __future__ import annotations

import json

from neulora.store import Passage, format_context
from neulora.store._paging import Hit


def test_where_names_file_page_and_section_once_for_every_reader() -> None:
    pdf = Passage("등차수열의 합", 0.5, "/notes/log.pdf", 2, "p1", {"section": "3. 수열"})
    assert pdf.where == "log.pdf, p. 2, 3. 수열"
    assert Passage("t", 0.5, "/notes/log.md", None, "p2", {}).where == "log.md"
    assert format_context([pdf]) == "[1] (log.pdf, p. 2, 3. 수열)\n등차수열의 합"
    assert repr(pdf) == "Passage('log.pdf, p. 2, 3. 수열', score=0.500, text='등차수열의 합')"


def test_a_passage_is_read_from_a_hit_through_the_chunk_schema() -> None:
    hit = Hit(
        "id1",
        "로그는 지수의 역연산",
        {"source": "/n/log.pdf", "page": 4, "section": "로그", "mine": 1},
        0.7,
    )
    p = Passage.from_hit(hit)
    assert (p.source, p.page, p.section, p.metadata["mine"]) == ("/n/log.pdf", 4, "로그", 1)
    assert json.loads(json.dumps(p.to_dict())) == {
        "id": "id1",
        "score": 0.7,
        "source": "/n/log.pdf",
        "page": 4,
        "section": "로그",
        "where": "log.pdf, p. 4, 로그",
        "text": "로그는 지수의 역연산",
    }

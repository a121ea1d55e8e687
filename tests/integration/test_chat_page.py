"""The chat page at ``/`` in a real Chromium, against a real ``neulora serve`` process.

Behind the server: a stub engine on loopback that answers ``Answer from <model>.`` word by word
after 0.3 s (the four styles as model names), the hashing embedder and embedded Chroma holding
``highmath12.txt``. A MutationObserver installed before the page's own script records when each
named part of the latest turn first got text, so "the style shows before the answer" is a fact about
the DOM, not about polling.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neulora.testing import ChatStubServer

from ..servers import ManagedServer, background_server, free_port, require_system

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
STYLES = ("direct", "socratic", "scaffolding", "feedback")
QUESTION = "등비수열의 합은 어떻게 구해요?"
FOLLOW_UP = "1 + 2 + 4 + 8 = 16 이라고 풀었어요. 맞나요?"

# [testid, ms] the first time each data-testid part gets text, in DOM mutation order; reset per
# question.
ORDER_LOG = """
window.__order = [];
new MutationObserver((records) => {
  for (const r of records) {
    const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
    const part = node && node.closest("[data-testid]");
    if (!part) continue;
    const added = r.type === "characterData"
      ? r.target.data
      : Array.from(r.addedNodes, (n) => n.textContent).join("");
    const id = part.dataset.testid;
    if (added.trim() && !window.__order.some(([seen]) => seen === id)) {
      window.__order.push([id, performance.now()]);
    }
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


@pytest.fixture
def engine() -> Iterator[ChatStubServer]:
    with ChatStubServer(latency=0.3) as stub:
        yield stub


@pytest.fixture
def served(tmp_path: Path, engine: ChatStubServer, shared_data: Path) -> Iterator[ManagedServer]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEULORA_", "HF_"))}
    env.update(
        {
            "NEULORA_BACKEND": "hf",
            "NEULORA_BASE_URL": engine.url,
            "NEULORA_EMBEDDER": "hash",
            "NEULORA_CHROMA_PATH": str(tmp_path / "db"),
            "NEULORA_SESSIONS_DIR": str(tmp_path / "sessions"),
            "NEULORA_MIN_SCORE": "0.1",
            **{f"NEULORA_MODEL_{s.upper()}": s for s in STYLES},
        }
    )
    subprocess.run(
        [sys.executable, "-m", "neulora", "ingest", str(shared_data / "highmath12.txt")],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    port = free_port()
    argv = [sys.executable, "-m", "neulora", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with background_server(
        argv, port, log=tmp_path / "serve.log", name="neulora serve", env=env, timeout=90
    ) as server:
        yield server


@pytest.fixture
def page(served: ManagedServer) -> Iterator[Any]:
    require_system(f"Chromium ({CHROMIUM})", CHROMIUM.exists())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": 1100, "height": 900})
            tab.set_default_timeout(30_000)
            tab.add_init_script(ORDER_LOG)
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            # a 404 (favicon, an unknown session) or any other error the browser logs counts too
            tab.on(
                "console",
                lambda m: (
                    errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None
                ),
            )
            tab.goto(served.url + "/")
            yield tab
            assert errors == [], f"the page raised or logged errors: {errors}"
        finally:
            browser.close()


def ask(page: Any, text: str) -> dict[str, Any]:
    """Type ``text``, press Enter, and return the request the page sent.

    Send is disabled while it streams.
    """
    from playwright.sync_api import expect

    page.evaluate("window.__order = []")
    page.get_by_label("Your question").fill(text)
    with page.expect_request("**/v1/chat/completions") as sent:
        page.get_by_label("Your question").press("Enter")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    expect(page.get_by_test_id("answer")).to_contain_text("Answer from")
    expect(page.get_by_test_id("sources")).to_contain_text(
        re.compile("From your notes|No notes matched")
    )
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    request = sent.value
    return {"body": request.post_data_json, "headers": request.headers}


def first_text(page: Any) -> dict[str, float]:
    return {part: ms for part, ms in page.evaluate("window.__order")}


def test_chat_page_shows_the_style_first_streams_the_answer_and_keeps_the_conversation(
    page: Any, engine: ChatStubServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    select, badge, answer = (
        page.get_by_test_id(t) for t in ("style-select", "style-badge", "answer")
    )
    expect(select.locator("option")).to_have_count(1 + len(STYLES))
    assert select.locator("option").all_inner_texts() == ["auto", *STYLES]
    session_id = page.evaluate("localStorage.getItem('neulora.session')")

    routed = ask(page, QUESTION)
    assert routed["body"] == {
        "model": "neulora",
        "messages": [{"role": "user", "content": QUESTION}],
        "stream": True,
    }
    assert (
        routed["headers"]["x-session-id"] == session_id and "authorization" not in routed["headers"]
    )
    seen = first_text(page)
    assert seen["style-badge"] < seen["answer"] and seen["scores"] < seen["answer"], seen
    assert seen["answer"] - seen["style-badge"] > 100, (
        f"the style should show well before the text: {seen}"
    )
    assert seen["answer"] < seen["sources"], f"the sources should come after the answer: {seen}"
    style = badge.inner_text()
    assert style in STYLES and answer.inner_text() == f"Answer from {style}."
    assert all(s in page.get_by_test_id("scores").inner_text() for s in STYLES)
    assert "highmath12.txt" in page.get_by_test_id("sources").inner_text()
    assert engine.requests[-1]["model"] == style

    select.select_option("neulora/feedback")
    forced = ask(page, FOLLOW_UP)
    assert forced["body"]["model"] == "neulora/feedback"
    expect(badge).to_have_text("feedback")
    expect(answer).to_have_text("Answer from feedback.")
    assert engine.requests[-1]["model"] == "feedback"
    turns = page.locator("[data-role=turn]")
    expect(turns).to_have_count(2)
    expect(turns.first).to_contain_text(QUESTION)
    expect(turns.first).to_contain_text(f"Answer from {style}.")
    expect(page.get_by_test_id("error")).to_be_empty()

    # the live view, with scores and sources (a reload restores the rest)
    shot = tmp_path / "chat_page.png"
    page.screenshot(path=str(shot), full_page=True)
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copyfile(shot, artifacts / "chat_page.png")
    assert (
        shot.stat().st_size > 0
        and (artifacts / "chat_page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    )

    live = [turn.inner_text() for turn in turns.all()]
    page.reload()
    expect(turns).to_have_count(2)
    expect(turns.first).to_contain_text(QUESTION)
    expect(turns.first).to_contain_text(f"Answer from {style}.")
    expect(turns.last).to_contain_text(FOLLOW_UP)
    expect(badge).to_have_text("feedback")
    expect(answer).to_have_text("Answer from feedback.")
    assert page.evaluate("localStorage.getItem('neulora.session')") == session_id
    # every turn comes back whole: style, scores, margin, sources with their label, timings
    assert [turn.inner_text() for turn in turns.all()] == live
    first = turns.first
    assert all(s in first.locator(".scores").inner_text() for s in STYLES)
    assert "margin" in first.locator(".meta").inner_text()
    assert "From your notes" in first.locator(".sources").inner_text()
    assert "highmath12.txt" in first.locator(".sources").inner_text()
    assert "score" in first.locator(".sources li").first.inner_text()
    # the forced turn names the style as the learner's choice, and still shows how the router scored
    # it
    forced_turn = turns.last
    assert "chosen by you" in forced_turn.locator(".meta").inner_text()
    assert all(s in forced_turn.locator(".scores").inner_text() for s in STYLES)
    shot = artifacts / "chat_page_reloaded.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    page.get_by_role("button", name="New conversation").click()
    expect(turns).to_have_count(0)
    assert page.evaluate("localStorage.getItem('neulora.session')") != session_id


def test_an_empty_conversation_fills_the_window_and_a_question_without_notes_says_so_plainly(
    page: Any,
) -> None:
    from playwright.sync_api import expect

    form = page.locator("#ask").bounding_box()
    assert form is not None and form["y"] + form["height"] >= 900 - 2, (
        f"the question box floats mid-window: {form}"
    )
    page.get_by_label("Your question").fill("hello there, what is the weather on mars today?")
    page.get_by_label("Your question").press("Enter")
    expect(page.get_by_test_id("answer")).to_contain_text("Answer from")
    sources = page.get_by_test_id("sources")
    expect(sources).to_contain_text("No notes matched")
    assert sources.locator("li").count() == 0, "no notes is a plain line, not a numbered item"


def test_a_broken_style_contract_shows_a_badge_that_stays_after_a_reload(
    page: Any, engine: ChatStubServer
) -> None:
    from playwright.sync_api import expect

    revealing = "Natalia sold 48 + 24 = 72 clips altogether. The answer is 72."
    clips = (
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
        "in May. How many clips did Natalia sell altogether?"
    )
    contract = page.get_by_test_id("contract-badge")
    page.get_by_test_id("style-select").select_option("neulora/direct")
    ask(page, QUESTION)  # a direct answer promises nothing: no badge
    expect(contract).to_be_empty()
    expect(contract).to_be_hidden()

    engine.enqueue(model="socratic", text=revealing)
    page.get_by_test_id("style-select").select_option("neulora/socratic")
    page.get_by_label("Your question").fill(clips)
    page.get_by_label("Your question").press("Enter")
    expect(page.get_by_test_id("answer")).to_have_text(revealing)
    expect(contract).to_have_text("⚠ gives the answer away")
    expect(contract).to_be_visible()
    assert "socratic answer breaks its style's contract" in (contract.get_attribute("title") or "")

    page.reload()
    turns = page.locator("[data-role=turn]")
    expect(turns).to_have_count(2)
    expect(turns.last.locator(".badge.warn")).to_have_text("⚠ gives the answer away")
    expect(turns.first.locator(".badge.warn")).to_be_empty()

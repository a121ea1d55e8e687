from __future__ import annotations

import pytest

from neulora.generation._cleaning import TemplateFilter, clean_answer


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<|im_start|>assistant\nHello there.<|im_end|>", "Hello there."),
        ("Assistant: 로그는 지수의 역연산입니다.<|endoftext|>", "로그는 지수의 역연산입니다."),
        ("  plain answer  ", "plain answer"),
        ("The assistant: role is fine mid-text", "The assistant: role is fine mid-text"),
    ],
)
def test_clean_answer(raw: str, clean: str) -> None:
    assert clean_answer(raw) == clean


@pytest.mark.parametrize(
    "pieces",
    [
        ["<|im_", "start|>assis", "tant\nHel", "lo, learner. What do", " you think?<|im", "_end|>"],
        ["Hello, learner. What do you think?", "<|im_end|>"],
        ["H", "e", "l", "l", "o", ",", " learner. What do you think?<", "|endoftext|>"],
    ],
)
def test_template_filter_cleans_split_tokens(pieces: list[str]) -> None:
    f = TemplateFilter()
    out = "".join(f.feed(p) for p in pieces) + f.flush()
    assert out == "Hello, learner. What do you think?"


def test_template_filter_keeps_a_literal_angle_bracket() -> None:
    f = TemplateFilter()
    out = "".join(f.feed(p) for p in ["If x < 3 and y > 2 then ", "x < y holds"]) + f.flush()
    assert out == "If x < 3 and y > 2 then x < y holds"

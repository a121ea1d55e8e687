"""Which language a text is written in, by its script.

Enough to tell a model that writes only some languages what to answer in.

>>> language_of("등비수열의 합은 어떻게 구해요?"), language_of("What is a logarithm?")
('ko', 'en')
"""

from __future__ import annotations

LANGUAGE_NAMES = {"en": "English", "ko": "Korean", "ja": "Japanese", "zh": "Chinese"}


def language_of(text: str) -> str:
    """``ko``, ``ja``, ``zh`` when the text holds that script's letters (in that order), or ``en``.

    Only the scripts matter, not the words: a Korean question with a formula in Latin letters is
    Korean.
    """
    found = script_languages(text)
    return next((code for code in ("ko", "ja", "zh") if code in found), "en")


def script_languages(text: str) -> set[str]:
    """The languages whose own letters ``text`` holds (``ko``, ``ja``, ``zh``).

    Latin script, digits and symbols hold none (English is every text's default, not a script of its
    own here).

    >>> sorted(script_languages("x = 3, 로그")), script_languages("log_2 8 = 3")
    (['ko'], set())
    """
    found = set()
    for c in text:
        if "\uac00" <= c <= "\ud7a3" or "\u1100" <= c <= "\u11ff" or "\u3130" <= c <= "\u318f":
            found.add("ko")
        elif "\u3040" <= c <= "\u30ff":
            found.add("ja")
        elif "\u4e00" <= c <= "\u9fff":
            found.add("zh")
    return found


def answer_language(question: str, languages: tuple[str, ...] | None) -> str | None:
    """The language to answer ``question`` in, for a model that writes only ``languages``.

    None when the model writes any language (``languages`` is None) or the question's own.

    >>> answer_language("로그가 뭐예요?", ("en",)), answer_language("What is a log?", ("en",))
    ('en', None)
    """
    if not languages:
        return None
    asked = language_of(question)
    return None if asked in languages else languages[0]

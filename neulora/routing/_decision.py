"""What routing decides: the style, the scores, and the rule that falls back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from .._checks import is_real
from ..errors import ConfigError

if TYPE_CHECKING:
    from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Which style was chosen, why, and every style's score.

    >>> scores = {"direct": 0.31, "socratic": 0.52}
    >>> d = RouteDecision("socratic", scores, margin=0.21, reason="nearest centroid")
    >>> d
    RouteDecision(style='socratic', top=0.520, margin=0.210)
    >>> RouteDecision.forced_to("direct").forced
    True
    """

    style: str
    scores: dict[str, float]
    margin: float
    fallback: bool = False
    reason: str = ""
    forced: bool = False

    def __repr__(self) -> str:
        flag = ""
        if self.fallback:
            flag = " fallback"
        elif self.forced:
            flag = " forced"
        top = max(self.scores.values()) if self.scores else float("nan")
        return f"RouteDecision(style={self.style!r}{flag}, top={top:.3f}, margin={self.margin:.3f})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "style": self.style,
            "scores": self.scores,
            "margin": self.margin,
            "fallback": self.fallback,
            "forced": self.forced,
            "reason": self.reason,
        }

    @classmethod
    def forced_to(cls, style: str, routed: RouteDecision | None = None) -> RouteDecision:
        """A decision made by the caller, not by the router.

        ``routed``: what the router would have chosen, whose scores and margin it keeps (so that a
        learner who forced a style still sees how the question scored).
        """
        if routed is None:
            return cls(
                style=style,
                scores={},
                margin=0.0,
                fallback=False,
                reason="style forced by the caller",
                forced=True,
            )
        return cls(
            style=style,
            scores=dict(routed.scores),
            margin=routed.margin,
            fallback=False,
            reason=f"style forced by the caller (the router chose {routed.style})",
            forced=True,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FallbackRule:
    """When the best style is not trusted.

    Top score below ``threshold`` or margin (top1 - top2) below ``min_margin``.

    ``None`` switches a condition off. Scores are cosines (-1..1) or probabilities (0..1), so
    ``threshold`` lies in [-1, 1] and ``min_margin`` in [0, 2].

    >>> rule = FallbackRule(threshold=0.3, min_margin=0.05, fallback_style="direct")
    >>> rule.fires(0.8, 0.2), rule.fires(0.25, 0.2), rule.fires(0.8, 0.01)
    (False, True, True)
    >>> why = rule.explain("nearest centroid", "socratic", 0.25, 0.2)
    >>> print(why)  # doctest: +NORMALIZE_WHITESPACE
    nearest centroid: 'socratic' not confident (top score 0.250 < threshold 0.300):
    fallback to 'direct'
    """

    threshold: float | None = None
    min_margin: float | None = None
    fallback_style: str = "direct"

    def __post_init__(self) -> None:
        for name, low, high in (("threshold", -1.0, 1.0), ("min_margin", 0.0, 2.0)):
            value = getattr(self, name)
            if value is None:
                continue
            if not is_real(value) or not low <= float(value) <= high:
                raise ConfigError(
                    f"{name} must be a number between {low:g} and {high:g} or None, got {value!r}"
                )
            object.__setattr__(self, name, float(value))
        if not isinstance(self.fallback_style, str) or not self.fallback_style.strip():
            raise ConfigError(
                f"fallback_style must be a non-empty style name, got {self.fallback_style!r}"
            )

    @overload
    def fires(self, top: float, margin: float) -> bool: ...
    @overload
    def fires(self, top: NDArray[Any], margin: NDArray[Any]) -> NDArray[np.bool_]: ...
    def fires(self, top: Any, margin: Any) -> Any:
        """Fall back? for one decision (floats), or per row of score and margin arrays."""
        low, thin = self._broken(top, margin)
        if isinstance(top, np.ndarray):
            # an array even when the rule is off
            return np.zeros(top.shape, dtype=bool) | low | thin
        return bool(low | thin)

    def explain(self, method: str, best: str, top: float, margin: float) -> str:
        """The human-readable reason of one decision."""
        low, thin = self._broken(top, margin)
        if not (low or thin):
            return f"{method}: {best!r} scored {top:.3f}, margin {margin:.3f}"
        why = []
        if low:
            why.append(f"top score {top:.3f} < threshold {self.threshold:.3f}")
        if thin:
            why.append(f"margin {margin:.3f} < min_margin {self.min_margin:.3f}")
        return (
            f"{method}: {best!r} not confident ({'; '.join(why)}): fallback to "
            f"{self.fallback_style!r}"
        )

    def _broken(self, top: Any, margin: Any) -> tuple[Any, Any]:
        # The one place the rule is written; `and` keeps arrays elementwise (False | array is an
        # array).
        return (
            self.threshold is not None and top < self.threshold,
            self.min_margin is not None and margin < self.min_margin,
        )


class RouteBatch(Sequence[RouteDecision]):
    """Decisions for many inputs, kept as arrays; indexing builds one :class:`RouteDecision`.

    >>> import numpy as np
    >>> from neulora.embedders import HashingEmbedder
    >>> from neulora.routing import CentroidRouter
    >>> router = CentroidRouter(["direct", "socratic"], np.eye(2, 8), HashingEmbedder(dim=8))
    >>> vectors = np.array([[1.0, 0.1, 0, 0, 0, 0, 0, 0], [0.2, 1.0, 0, 0, 0, 0, 0, 0]])
    >>> batch = router.route_vectors(vectors)
    >>> batch.style_names(), batch.scores.shape
    (['direct', 'socratic'], (2, 2))
    """

    def __init__(
        self,
        styles: Sequence[str],
        scores: NDArray[Any],
        rule: FallbackRule,
        *,
        method: str = "nearest centroid",
    ) -> None:
        self.styles = tuple(styles)
        self.scores = scores
        self.rule = rule
        self.method = method
        self.best = np.argmax(scores, axis=1)  # the first of equal scores, as for a single decision
        top2 = np.sort(scores, axis=1)[:, -2:]
        self.margins = top2[:, 1] - top2[:, 0]
        self.fallback = rule.fires(top2[:, 1], self.margins)
        self.chosen = np.where(self.fallback, self.styles.index(rule.fallback_style), self.best)

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @overload
    def __getitem__(self, i: int) -> RouteDecision: ...
    @overload
    def __getitem__(self, i: slice) -> list[RouteDecision]: ...
    def __getitem__(self, i: int | slice) -> RouteDecision | list[RouteDecision]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return decide(self.styles, self.scores[i].tolist(), self.rule, self.method)

    def __iter__(self) -> Iterator[RouteDecision]:
        return (self[i] for i in range(len(self)))

    def style_names(self) -> list[str]:
        """The chosen style of every input."""
        return [self.styles[int(i)] for i in self.chosen]


def decide(
    styles: tuple[str, ...], scores: Sequence[float], rule: FallbackRule, method: str
) -> RouteDecision:
    """The decision for one row of scores (one per style, in ``styles`` order)."""
    order = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
    top = float(scores[order[0]])
    best = styles[order[0]]
    margin = top - float(scores[order[1]])
    fallback = rule.fires(top, margin)
    return RouteDecision(
        style=rule.fallback_style if fallback else best,
        scores=dict(zip(styles, (float(s) for s in scores), strict=True)),
        margin=margin,
        fallback=fallback,
        reason=rule.explain(method, best, top, margin),
    )

"""What the evaluation data holds: dialogues, their cuts at a learner turn, responses and labels.

>>> turns = (
...     DialogueTurn("tutor", "Talk me through it", "generic"),
...     DialogueTurn("learner", "12-3=9"),
...     DialogueTurn("tutor", "Add them instead", "telling"),
...     DialogueTurn("learner", "15"),
... )
>>> dialogue = Dialogue("d1", turns, question="How many spoons?", solution="15")
>>> [(c.learner, c.next_style) for c in dialogue.cuts(every=True)]
[('12-3=9', 'direct'), ('15', None)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["tutor", "learner"]

# MathDial's teacher moves and the teaching styles they stand for (as the routing rows map them)
MOVE_STYLES: Mapping[str, str] = {
    "telling": "direct",
    "probing": "socratic",
    "focus": "scaffolding",
    "generic": "feedback",
}

# MRBench's dimensions and the label strings each allows
LABELS: Mapping[str, tuple[str, ...]] = {
    "Mistake_Identification": ("Yes", "To some extent", "No"),
    "Mistake_Location": ("Yes", "To some extent", "No"),
    "Providing_Guidance": ("Yes", "To some extent", "No"),
    "Actionability": ("Yes", "To some extent", "No"),
    "Revealing_of_the_Answer": (
        "Yes (and the answer is correct)",
        "Yes (but the answer is incorrect)",
        "No",
    ),
    "Coherence": ("Yes", "To some extent", "No"),
    "Tutor_Tone": ("Encouraging", "Neutral", "Offensive"),
    "humanlikeness": ("Yes", "To some extent", "No"),
}


@dataclass(frozen=True, slots=True)
class DialogueTurn:
    """One turn: who spoke, what was said, and the tutor's move where the data tags it."""

    role: Role
    text: str
    move: str | None = None

    @property
    def style(self) -> str | None:
        """The teaching style of a tagged tutor move (None: untagged, or a learner turn)."""
        return MOVE_STYLES.get(self.move or "")


@dataclass(frozen=True, slots=True)
class Cut:
    """A dialogue cut at a learner turn: what came before, the turn, and what the tutor did next."""

    dialogue_id: str
    history: tuple[DialogueTurn, ...]
    learner: str
    next_response: str | None = None  # the human tutor's next turn, where there is one
    next_move: str | None = None
    solution: str = ""  # the problem's worked solution, where the data has it

    @property
    def next_style(self) -> str | None:
        """The style of the human tutor's next move (the ``oracle``), where the data tags it."""
        return MOVE_STYLES.get(self.next_move or "")

    @property
    def text(self) -> str:
        """Everything said so far, the learner's turn included, one turn a line."""
        return "\n".join([*(t.text for t in self.history), self.learner])

    def messages(self) -> list[dict[str, str]]:
        """The history as chat messages (tutor: ``assistant``, learner: ``user``)."""
        roles = {"tutor": "assistant", "learner": "user"}
        return [{"role": roles[t.role], "content": t.text} for t in self.history]


@dataclass(frozen=True, slots=True)
class Dialogue:
    """A whole tutoring dialogue, with the problem it is about where the data has it."""

    id: str
    turns: tuple[DialogueTurn, ...]
    question: str = ""
    solution: str = ""
    learner_solution: str = ""

    def cuts(self, *, every: bool = False) -> list[Cut]:
        """The dialogue cut at its last learner turn, or at every learner turn (``every``)."""
        cuts = []
        for i, turn in enumerate(self.turns):
            if turn.role != "learner":
                continue
            following = self.turns[i + 1] if i + 1 < len(self.turns) else None
            tutor_next = following if following is not None and following.role == "tutor" else None
            cuts.append(
                Cut(
                    self.id,
                    self.turns[:i],
                    turn.text,
                    None if tutor_next is None else tutor_next.text,
                    None if tutor_next is None else tutor_next.move,
                    self.solution,
                )
            )
        return cuts if every else cuts[-1:]


@dataclass(frozen=True, slots=True)
class TutorResponse:
    """One tutor's response to a cut dialogue, with the human labels it was given."""

    tutor: str
    text: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LabelledDialogue:
    """An MRBench item: a dialogue to the learner's last turn, every tutor's labelled response."""

    dialogue: Dialogue
    responses: tuple[TutorResponse, ...]
    topic: str = ""

    @property
    def cut(self) -> Cut:
        """The dialogue at the learner's last turn, which every response answers."""
        return self.dialogue.cuts()[-1]


@dataclass(frozen=True, slots=True)
class RoutingRow:
    """A learner turn and the style of the expert teacher's next move (MathDial's routing rows)."""

    conversation_id: str
    turn_index: int
    text: str
    history: tuple[DialogueTurn, ...]
    label: str
    prev_label: str | None
    teacher_move: str | None = None

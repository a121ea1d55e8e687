"""The four teaching styles, named in one place: every other module imports them from here.

>>> STYLES
('direct', 'socratic', 'scaffolding', 'feedback')
"""

from __future__ import annotations

#: The styles of the original router file, in its order: answer directly, lead with questions, give
#: step-by-step hints, assess the learner's attempt.
STYLES: tuple[str, ...] = ("direct", "socratic", "scaffolding", "feedback")


#: The name older code imported from :mod:`neulora.router`.
DEFAULT_STYLES = STYLES

"""What ``neulora router-eval`` reads and draws.

Labelled JSONL rows, and the confusion-matrix picture.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InvalidInputError


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    try:
        # a FIFO or a device would be read forever: never opened
        if not stat.S_ISREG(path.stat().st_mode):
            raise InvalidInputError(f"{path} is not a regular file: give a JSONL file")
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}): give a JSONL file "
            'with one {"text": ..., "label": ...} object per line'
        ) from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InvalidInputError(f"{path}:{n}: not JSON ({exc})") from exc
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("text"), str)
            or not isinstance(row.get("label"), str)
        ):
            raise InvalidInputError(f"{path}:{n}: each row needs str 'text' and 'label'")
        if row.get("prev_label") is not None and not isinstance(row["prev_label"], str):
            raise InvalidInputError(f"{path}:{n}: 'prev_label' must be a style name or null")
        if not row["text"].strip():
            raise InvalidInputError(f"{path}:{n}: 'text' is empty: a router cannot route nothing")
        rows.append(row)
    if not rows:
        raise InvalidInputError(f"{path}: no rows")
    return rows


def row_states(rows: list[dict[str, Any]]) -> list[Any]:
    """Each row's dialogue state: its ``prev_label`` and ``turn_index`` (0 where absent)."""
    from ..routing import DialogueState

    states = []
    for n, row in enumerate(rows, start=1):
        turn = row.get("turn_index", 0)
        if not isinstance(turn, int) or isinstance(turn, bool) or turn < 0:
            raise InvalidInputError(f"row {n}: 'turn_index' must be an int >= 0, got {turn!r}")
        states.append(DialogueState(row.get("prev_label"), turn))
    return states


def pyplot() -> Any:
    """Pyplot on the file-only Agg backend, or a ConfigError naming the extra to install."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError("--plot needs matplotlib: pip install 'neulora[plot]'") from exc
    return plt


def plot_target(text: str) -> Path:
    """The ``--plot`` file, refused with a ConfigError if the picture could not be written there."""
    path = Path(text)
    folder = path.parent
    if path.is_dir():
        raise ConfigError(
            f"--plot {text}: {path} is a folder; give a file name such as {path / 'confusion.png'}"
        )
    if not folder.is_dir():
        what = f"{folder} is not a folder" if folder.exists() else f"folder {folder} does not exist"
        raise ConfigError(f"--plot {text}: {what}; create it or choose another place")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"--plot {text}: folder {folder} is not writable; choose another place")
    pyplot()
    from matplotlib.backend_bases import FigureCanvasBase

    kinds = sorted(FigureCanvasBase.get_supported_filetypes())
    suffix = path.suffix.lower().lstrip(".")
    if not suffix:
        raise ConfigError(
            f"--plot {text}: needs a file name ending in .png (or .{', .'.join(kinds)})"
        )
    if suffix not in kinds:
        raise ConfigError(
            f"--plot {text}: matplotlib cannot write '.{suffix}' files; use .png "
            f"(or .{', .'.join(kinds)})"
        )
    return path


def plot_confusion(report: Any, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    matrix = report.confusion
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(report.styles)), report.styles, rotation=30)
    ax.set_yticks(range(len(report.styles)), report.styles)
    ax.set_xlabel("routed")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}")
    top = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(
                j,
                i,
                str(value),
                ha="center",
                va="center",
                color="white" if value > top / 2 else "black",
            )
    fig.colorbar(image)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise ConfigError(f"--plot {path}: the picture cannot be written: {exc}") from exc
    finally:
        plt.close(fig)

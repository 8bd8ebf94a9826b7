"""A progress bar over the stages of a long run, on stderr (issue 10: never in pipes, JSON,
cron mail or with ``--quiet``).

A run reads the exports, normalises them, then reduces them to the result; the bar moves a
step at each, with the elapsed time, and disappears before the result is printed.
"""

from __future__ import annotations

from typing import Any

STAGES = 3  # read, normalise, compute


class Stages:
    """Steps of a run, shown as a transient Rich progress bar once :meth:`show` is called."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._task: Any = None

    def show(self, console: Any) -> None:
        """Draw the stages on ``console`` (a terminal's stderr)."""
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  TimeElapsedColumn(), console=console, transient=True)

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def step(self, description: str) -> None:
        """Finish the current stage (if any) and start the next, described."""
        if self._progress is None:
            return
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(description, total=STAGES)
            return
        self._progress.update(self._task, advance=1, description=description)

    def done(self) -> None:
        """Remove the bar (before the result is printed)."""
        if self._progress is not None and self._task is not None:
            self._progress.stop()
        self._progress = None

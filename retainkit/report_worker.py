"""The report's "Who will buy again" section (SPEC §6) fitted and drawn in a second process.

The section costs about the same whatever the data's size: importing SciPy and matplotlib
(0.35–0.4 s), the fit on its sample of about 5,000 customers (0.1 s) and its three charts
(0.25 s), about 0.6 s of the report's wall time at 10M lines. A :class:`ModelWorker` does
it beside this process: once the orders are known, it starts a second Python process and
sends it their sample (a few thousand customers' orders, pickled). While this process
computes the trend, the cohorts and the customer lists on one core, the worker imports,
fits and draws the charts in the report's language on the other. (Started with the
command instead, to import while the export is read, it gained nothing: reading already
keeps both cores busy.)

The worker runs the same code as this process, :func:`model_section` (from
:func:`~retainkit.report_buyers.buy_again_on_sample` and
:func:`~retainkit.render_report.model_charts`). Whatever goes wrong with it (it cannot start,
it dies, it sends nothing, it does not answer within :data:`WAIT_SECONDS`), the section is
computed here instead (its charts, if the output has them, drawn when rendered): the
report is the same bytes either way. The worker draws the charts only for an HTML report.
It is used only where it pays: the local engine, at least two cores and at least
:data:`MIN_ORDERS` orders.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import selectors
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd

from retainkit.report_buyers import buy_again_on_sample, local_sample

#: Orders from which the worker pays: below, this process's other work is too short to hide
#: the worker's start. The report's wall time with the worker against without, measured:
#: 1.04× at 4,000 orders, 0.96× at 400,000 (1M lines), 0.87× at 4M (10M lines).
MIN_ORDERS = 200_000
#: How long the report waits for the worker's first byte (its section takes about a second).
WAIT_SECONDS = 120.0

Pending = Callable[[], dict[str, Any]]


def model_section(sample: pd.DataFrame, *, step: int, start_day: int, end_day: int, lang: str | None = None
                  ) -> dict[str, Any]:
    """The section of :func:`~retainkit.report_buyers.buy_again_on_sample` on ``sample`` (the
    orders of 1 in ``step`` customers); with ``lang``, its charts as the HTML report in that
    language shows them, under ``_charts`` (``{lang: [svg, …]}``)."""
    section = buy_again_on_sample(lambda: (sample, step), start_day=start_day, end_day=end_day)
    if lang is not None and section["note"] is None:
        from retainkit.errors import RetainkitError
        from retainkit.render_report import model_charts

        with contextlib.suppress(RetainkitError):  # no matplotlib: the renderer says so, for HTML only
            section["_charts"] = {lang: model_charts(section, lang)}
    return section


#: The worker's program: the parent's module path (its first argument), then :func:`serve`.
_SERVE = "import json, sys; sys.path[:] = json.loads(sys.argv[1]); from retainkit.report_worker import serve; serve()"


def serve() -> None:
    """The worker: read one pickled task (:func:`model_section`'s keywords) on stdin, write
    the pickled section on stdout, and leave without the interpreter's slow clean-up
    (nothing of it is kept)."""
    task = pickle.load(sys.stdin.buffer)
    pickle.dump(model_section(**task), sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()
    os._exit(0)


class ModelWorker:
    """A second Python process that computes one :func:`model_section` (see the module's
    docstring), started by :meth:`section`."""

    def __init__(self, *, lang: str | None) -> None:
        self.lang = lang
        self._process: subprocess.Popen | None = None

    def section(self, orders: pd.DataFrame, *, start_day: int, end_day: int) -> Pending | None:
        """Start the worker and send it the sample of ``orders``; the returned function waits
        for the section (computed here if the worker cannot start or fails). None below
        :data:`MIN_ORDERS`: the caller computes the section itself."""
        if self._process is not None:
            raise RuntimeError("a ModelWorker computes one section")
        if len(orders) < MIN_ORDERS:
            return None
        sample, step = local_sample(orders)
        task: dict[str, Any] = {"sample": sample, "step": step, "start_day": start_day, "end_day": end_day,
                                "lang": self.lang}
        process = self._start()
        if process is not None:
            # Written from a thread: the worker reads it once its imports are done, and a
            # pipe holds only 64 KiB; this process goes on with the report meanwhile.
            threading.Thread(target=_send, args=(process, task), daemon=True).start()

        def collect() -> dict[str, Any]:
            if process is not None and process.stdout is not None and _answers(process, WAIT_SECONDS):
                with contextlib.suppress(Exception):  # the worker died or sent nothing: computed here
                    section = pickle.load(process.stdout)
                    if isinstance(section, dict):
                        return section
            return model_section(**task | {"lang": None})  # the charts, if any, are drawn when rendered

        return collect

    def _start(self) -> subprocess.Popen | None:
        """This Python running :func:`serve` with this process's module path (so the same
        retainkit, wherever it was imported from); None if it cannot be started."""
        if not sys.executable:  # an embedded interpreter may not know its executable
            return None
        with contextlib.suppress(OSError):  # -P: the working directory's modules are not imported
            self._process = subprocess.Popen([sys.executable, "-P", "-c", _SERVE, json.dumps(sys.path)],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return self._process

    def close(self) -> None:
        """Stop the worker if it is still running (its section sent, it has left by itself)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()


def _answers(process: subprocess.Popen, seconds: float) -> bool:
    """Whether the worker writes (or closes) its output within ``seconds``; if not, it is
    stopped: a worker stuck for any reason costs the report that long, not forever."""
    with selectors.DefaultSelector() as waiting:
        waiting.register(process.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        if waiting.select(seconds):
            return True
    process.kill()
    return False


def _send(process: subprocess.Popen, task: dict[str, Any]) -> None:
    """The pickled task on the worker's stdin, then end of file, whatever happens: a task
    that cannot be pickled or a worker that died leaves the worker at end of file, so it
    exits and :meth:`ModelWorker.section`'s caller computes the section itself."""
    assert process.stdin is not None
    with contextlib.suppress(Exception):
        pickle.dump(task, process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
    with contextlib.suppress(OSError):
        process.stdin.close()


def _cores() -> int:
    """The cores this process may run on (its affinity where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextlib.contextmanager
def model_worker(*, engine: str, lang: str | None) -> Iterator[ModelWorker | None]:
    """A :class:`ModelWorker` for the report where one can pay (the local engine, at least
    two cores), else None; closed on the way out."""
    worker = ModelWorker(lang=lang) if engine == "local" and _cores() >= 2 else None
    try:
        yield worker
    finally:
        if worker is not None:
            worker.close()

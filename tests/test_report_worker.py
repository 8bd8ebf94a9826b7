"""The report's model section computed in a second process (:mod:`retainkit.report_worker`):
the same section and the same report bytes as in this process, a worker that dies changes
nothing, and it is started only where it pays."""

from __future__ import annotations

import datetime as dt
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from retainkit import report_worker
from retainkit.config import ReadOptions
from retainkit.periods import day_number
from retainkit.pipeline import read_orders
from retainkit.report_buyers import local_sample
from retainkit.report_worker import ModelWorker, model_section, model_worker
from tests.conftest import ROOT, run_cli

EXAMPLE = ROOT / "examples"
ARGS = ("report", EXAMPLE / "orders.csv", "--config", EXAMPLE / "retainkit.toml", "--every", "month")
START, END = day_number(dt.date(2023, 1, 1)), day_number(dt.date(2024, 11, 30))


@pytest.fixture(autouse=True)
def _every_size(request, monkeypatch):
    """A worker for the examples' few orders too (but where the test is about the size)."""
    if request.node.name != "test_a_worker_only_where_it_pays":
        monkeypatch.setattr(report_worker, "MIN_ORDERS", 0)


@pytest.fixture(scope="module")
def orders():
    columns = {"customer_id": "customer_email", "order_date": "created_at"}
    return read_orders([str(EXAMPLE / "orders.csv")], ReadOptions(columns=columns)).orders


def _not_here(*args, **kwargs):
    raise AssertionError("the section was computed in this process")


def test_the_worker_computes_the_section_this_process_would(orders, monkeypatch):
    worker = ModelWorker(lang="vi")
    try:
        with monkeypatch.context() as patch:  # only the worker can compute it now
            patch.setattr(report_worker, "buy_again_on_sample", _not_here)
            from_worker = worker.section(orders, start_day=START, end_day=END)()
    finally:
        worker.close()
    sample, step = local_sample(orders)
    here = model_section(sample, step=step, start_day=START, end_day=END, lang="vi")
    assert from_worker["note"] is None and len(from_worker["_charts"]["vi"]) == 3
    assert from_worker == here


def test_a_worker_that_dies_leaves_the_section_to_this_process(orders):
    worker = ModelWorker(lang="en")
    try:
        pending = worker.section(orders, start_day=START, end_day=END)
        worker._process.kill()
        worker._process.wait()
        section = pending()
    finally:
        worker.close()
    sample, step = local_sample(orders)
    assert section == model_section(sample, step=step, start_day=START, end_day=END)  # charts: when rendered


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_report_is_the_same_bytes_with_a_worker(tmp_path, monkeypatch, lang):
    here, there = tmp_path / "here.html", tmp_path / "there.html"
    monkeypatch.setattr(report_worker, "MIN_ORDERS", 10**9)
    assert run_cli(*ARGS, "--lang", lang, "--output", here).code == 0
    started = []
    monkeypatch.setattr(report_worker, "MIN_ORDERS", 0)
    monkeypatch.setattr(ModelWorker, "_start", _recorded(ModelWorker._start, started))
    assert run_cli(*ARGS, "--lang", lang, "--output", there).code == 0
    assert started == [lang] and there.read_bytes() == here.read_bytes()


def _recorded(start, started):
    def wrapper(self):
        started.append(self.lang)
        return start(self)

    return wrapper


def test_a_worker_only_where_it_pays(orders):
    with model_worker(engine="spark", lang="en") as worker:
        assert worker is None  # Spark fits on its driver
    with model_worker(engine="local", lang="en") as worker:
        assert isinstance(worker, ModelWorker)
        # 900 customers' orders: quicker here than a process is to start; the report fits here
        assert worker.section(orders, start_day=START, end_day=END) is None and worker._process is None


def test_a_worker_that_cannot_start_leaves_the_section_to_this_process(orders, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.executable", str(tmp_path / "no-python"))
    worker = ModelWorker(lang="en")
    section = worker.section(orders, start_day=START, end_day=END)()
    worker.close()
    sample, step = local_sample(orders)
    assert section == model_section(sample, step=step, start_day=START, end_day=END)  # charts: when rendered


def test_a_sample_that_cannot_be_sent_is_fitted_here(orders, monkeypatch):
    # Pickling fails in the sending thread: the worker must see the end of its input and
    # leave, not wait for a task forever while this process waits for it.
    sample, step = local_sample(orders)
    unsendable = sample.copy()
    unsendable.attrs["why"] = lambda: None  # a lambda cannot be pickled
    monkeypatch.setattr(report_worker, "local_sample", lambda _: (unsendable, step))
    worker, waiting = ModelWorker(lang="en"), ThreadPoolExecutor(1)
    try:
        section = waiting.submit(worker.section(orders, start_day=START, end_day=END)).result(timeout=120)
    finally:
        worker.close()  # a worker still waiting is killed: the wait above ends either way
        waiting.shutdown()
    assert section == model_section(sample, step=step, start_day=START, end_day=END)


def test_a_worker_that_does_not_answer_is_stopped(orders, monkeypatch):
    monkeypatch.setattr(report_worker, "_SERVE", "import time; time.sleep(3600)")
    monkeypatch.setattr(report_worker, "WAIT_SECONDS", 1.0)
    worker = ModelWorker(lang="en")
    section = worker.section(orders, start_day=START, end_day=END)()
    assert worker._process.poll() is not None  # stopped, not left running
    worker.close()
    sample, step = local_sample(orders)
    assert section == model_section(sample, step=step, start_day=START, end_day=END)


def test_the_worker_imports_nothing_from_the_working_directory(orders, tmp_path, monkeypatch):
    (tmp_path / "json.py").write_text("open('imported', 'w').close()\nimport time\ntime.sleep(3600)\n")
    monkeypatch.chdir(tmp_path)
    worker = ModelWorker(lang="en")
    with monkeypatch.context() as patch:  # only the worker can compute it now
        patch.setattr(report_worker, "buy_again_on_sample", _not_here)
        section = worker.section(orders, start_day=START, end_day=END)()
    worker.close()
    assert section["note"] is None and not (tmp_path / "imported").exists()


def test_an_interpreter_that_does_not_know_its_executable_fits_here(orders, monkeypatch):
    monkeypatch.setattr("sys.executable", None)
    worker = ModelWorker(lang="en")
    section = worker.section(orders, start_day=START, end_day=END)()
    worker.close()
    assert worker._process is None and section["note"] is None


@pytest.mark.parametrize(("fmt", "code"), [("json", 0), ("md", 0), ("html", 2)])
def test_only_html_needs_matplotlib_with_a_worker(tmp_path, monkeypatch, fmt, code):
    # The worker draws no charts for JSON or Markdown; without matplotlib (here: in the worker
    # too, through its environment) only the HTML report, which shows them, is refused.
    (tmp_path / "matplotlib.py").write_text("raise ImportError('no matplotlib here')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    run = run_cli(*ARGS, "--format", fmt, "--output", tmp_path / f"r.{fmt}")
    assert run.code == code
    if code:
        assert "charts need matplotlib" in run.stderr


def test_a_worker_computes_one_section(orders):
    worker = ModelWorker(lang=None)
    try:
        worker.section(orders, start_day=START, end_day=END)
        with pytest.raises(RuntimeError, match="one section"):  # a second would leave the first unwatched
            worker.section(orders, start_day=START, end_day=END)
    finally:
        worker.close()
    assert worker._process.poll() is not None  # closed: not left running

"""The Spark session: where it runs (``--spark-master``, ``--spark-remote``, ``SPARK_REMOTE``),
its settings (``--spark-conf KEY=VALUE``), and a failure to start as one line (exit 2).

pyspark is imported here, lazily: the core install never needs it.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retainkit.errors import RetainkitError

DEFAULT_MASTER = "local[*]"
#: Settings every session gets (the command line may override them): UTC inside Spark, so
#: that timestamps reach the shards as instants and are turned into local days by the same
#: rule as locally (``--tz``); no web UI for a one-shot command.
BASE_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # pyspark's FutureWarning about newer pandas, once per Python worker: noise on stderr.
    "spark.executorEnv.PYTHONWARNINGS": "ignore::FutureWarning",
}
JAVA_HINT = "Spark needs Java 17 or newer: on Debian/Ubuntu, apt-get install default-jre-headless"


@dataclass(frozen=True)
class SparkOptions:
    """Where and how to run Spark: a master URL, or a Spark Connect URL (``sc://host:15002``,
    also from ``SPARK_REMOTE``), extra ``KEY=VALUE`` settings, the number of shards
    (default: the session's ``spark.sql.shuffle.partitions``), and whether Spark shows the
    progress of its stages on stderr (not with ``--quiet``)."""

    master: str = DEFAULT_MASTER
    remote: str | None = None
    conf: tuple[str, ...] = field(default_factory=tuple)
    shards: int | None = None
    progress: bool = False


def parse_conf(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` settings as a dict; anything else is one error line.

    >>> parse_conf(["spark.executor.memory=2g"])
    {'spark.executor.memory': '2g'}
    """
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise RetainkitError(f"--spark-conf {pair!r} is not KEY=VALUE",
                                 "e.g. --spark-conf spark.executor.memory=4g")
        out[key.strip()] = value.strip()
    return out


def get_session(options: SparkOptions) -> Any:
    """A running Spark session (an existing one is reused: a notebook's), or one clear error."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise RetainkitError("--engine spark needs pyspark, which is not installed",
                             "pip install 'retainkit[spark]'") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    remote = options.remote or os.environ.get("SPARK_REMOTE")
    quiet_logs = f"-Dlog4j2.configurationFile={Path(__file__).with_name('log4j2.properties').as_uri()}"
    conf = BASE_CONF | {"spark.driver.extraJavaOptions": quiet_logs,
                        "spark.ui.showConsoleProgress": str(options.progress).lower()} | parse_conf(options.conf)
    builder = SparkSession.builder.remote(remote) if remote else SparkSession.builder.master(options.master)
    for key, value in conf.items():
        if not (remote and key.startswith("spark.ui")):
            builder = builder.config(key, value)
    if not remote and not _java_found():
        raise RetainkitError("--engine spark: Java was not found (no java on PATH, no JAVA_HOME)", JAVA_HINT)
    try:
        with warnings.catch_warnings(), _jvm_stderr(keep=options.progress or bool(remote)):
            warnings.simplefilter("ignore", FutureWarning)
            session = builder.getOrCreate()
    except Exception as err:  # the JVM, the cluster or Spark Connect said no
        where = remote or options.master
        hint = "check --spark-master / --spark-remote and that the cluster is reachable"
        quiet = "" if options.progress or remote else "; without --quiet Java's own lines show why"
        raise RetainkitError(f"--engine spark: cannot start Spark at {where} ({first_line(err)})",
                             hint + quiet) from None
    if not remote:
        session.sparkContext.setLogLevel("ERROR")  # errors reach the user as one line, not as Java logs
    return session


@contextmanager
def _jvm_stderr(*, keep: bool) -> Iterator[None]:
    """Unless ``keep``, the JVM started here gets no stderr: it inherits this process's
    file descriptor 2 when it starts, which points to ``/dev/null`` meanwhile. So ``--quiet``
    is quiet: no line of Java's own ("Using incubator modules"); Spark's errors still reach
    the user, as one line, through the Python exception."""
    if keep:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as nowhere:
            os.dup2(nowhere.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _java_found() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (home and os.path.exists(os.path.join(home, "bin", "java"))))


def first_line(err: BaseException) -> str:
    """The first meaningful line of a (possibly Java) error, at most 300 characters."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = lines[0] if lines else type(err).__name__
    return text if len(text) <= 300 else text[:300] + "…"

"""The scaling benchmark of issue 13: a large Parquet dataset on Spark ``local[2]`` with the
driver capped, and the local engine on the same data; time and every process's peak memory.

    python benchmarks/spark_scale.py /tmp/lake --commands kpis customers --engines spark local

Each run is one ``retainkit`` process; a sampler reads ``/proc`` every half second and keeps
the peak resident memory of every process of the run (the Python driver, the JVM — in
``local[2]`` the driver and the executors are one JVM, capped by ``spark.driver.memory`` —
and each Python worker), and the peak of their sum. Spark's event log gives the bytes
shuffled and the bytes of task results sent to the driver. A local run whose memory passes
``--local-limit`` GiB is stopped (the machine is shared): the table says so.
``customers`` writes Parquet (a folder with Spark, a file locally); ``kpis`` writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
GIB = 1 << 30


def _children(root: int) -> list[int]:
    """``root`` and every process below it."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                parents.setdefault(int(fields[1]), []).append(int(entry))
            except OSError:
                continue
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE
    except OSError:
        return 0


def _label(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            words = handle.read().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(w.decode(errors="replace") for w in words)
    if words[0].decode(errors="replace").endswith("java"):
        return "JVM (driver + executors)"
    if "pyspark.daemon" in text or "pyspark/daemon" in text or "import sys;exec" in text:
        return "Python worker"
    if "retainkit" in text:
        return "retainkit (Python driver)"
    return words[0].decode(errors="replace").rsplit("/", 1)[-1]


class Sampler(threading.Thread):
    """Peak RSS per process and of the sum, every ``every`` seconds, until stopped; calls
    ``over`` once when the sum passes ``limit`` bytes."""

    def __init__(self, root: int, *, every: float = 0.5, limit: int | None = None, over=None) -> None:
        super().__init__(daemon=True)
        self.root, self.every, self.limit, self.over = root, every, limit, over
        self.peaks: dict[int, tuple[str, int]] = {}
        self.total = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            now = 0
            for pid in _children(self.root):
                rss = _rss(pid)
                now += rss
                label, peak = self.peaks.get(pid, ("", 0))
                now_label = _label(pid)  # again each time: a launcher script becomes the JVM; an ended one has none
                self.peaks[pid] = (now_label if now_label not in ("", "?") else label, max(peak, rss))
            self.total = max(self.total, now)
            if self.limit is not None and now > self.limit and self.over is not None:
                self.over()
                self.over = None
            self.stopped.wait(self.every)

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """Per kind of process: how many, and the largest peak."""
        kinds: dict[str, tuple[int, int]] = {}
        for label, peak in self.peaks.values():
            if peak == 0:
                continue
            count, top = kinds.get(label, (0, 0))
            kinds[label] = (count + 1, max(top, peak))
        return kinds


def event_totals(folder: Path) -> dict[str, int]:
    """Bytes shuffled (written), bytes of task results sent to the driver, tasks."""
    out = {"shuffle_bytes": 0, "shuffle_records": 0, "result_bytes": 0, "tasks": 0}
    for log in folder.rglob("*"):
        if not log.is_file() or log.name.startswith("."):
            continue
        with open(log, encoding="utf-8") as handle:
            for line in handle:
                if '"SparkListenerTaskEnd"' not in line:
                    continue
                metrics = json.loads(line).get("Task Metrics") or {}
                write = metrics.get("Shuffle Write Metrics") or {}
                out["shuffle_bytes"] += int(write.get("Shuffle Bytes Written", 0))
                out["shuffle_records"] += int(write.get("Shuffle Records Written", 0))
                out["result_bytes"] += int(metrics.get("Result Size", 0))
                out["tasks"] += 1
    return out


def run(command: str, data: Path, engine: str, args: argparse.Namespace) -> dict:
    work = args.work / f"{command}-{engine}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    output = work / ("out.json" if command == "kpis" else "customers" if engine == "spark" else "out.parquet")
    fmt = "json" if command == "kpis" else "parquet"
    line = [sys.executable, "-m", "retainkit", command, str(data), "--format", fmt, "--output", str(output)]
    if engine == "spark":
        events = work / "events"
        events.mkdir()
        line += ["--engine", "spark", "--spark-master", "local[2]", "--quiet"]
        for conf in (f"spark.driver.memory={args.driver_memory}", f"spark.sql.shuffle.partitions={args.shards}",
                     "spark.eventLog.enabled=true", f"spark.eventLog.dir={events.as_uri()}",
                     "spark.eventLog.compress=false", "spark.eventLog.rolling.enabled=false", *args.conf):
            line += ["--spark-conf", conf]
    started = time.monotonic()
    with open(work / "stderr.txt", "w") as errors:
        process = subprocess.Popen(line, stdout=subprocess.DEVNULL, stderr=errors)
    stopped = []

    def stop() -> None:
        stopped.append(time.monotonic() - started)
        process.kill()

    limit = int(args.local_limit * GIB) if engine == "local" else None
    sampler = Sampler(process.pid, limit=limit, over=stop)
    sampler.start()
    try:
        code = process.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait()
        stopped.append(args.timeout)
    sampler.stopped.set()
    sampler.join()
    result = {"command": command, "engine": engine, "exit": code, "wall_s": round(time.monotonic() - started, 1),
              "peak_total_gib": round(sampler.total / GIB, 2),
              "processes": {k: {"count": c, "peak_gib": round(p / GIB, 2)} for k, (c, p) in sampler.by_kind().items()},
              "stopped_at_s": round(stopped[0], 1) if stopped else None,
              "stderr": (work / "stderr.txt").read_text(errors="replace").strip().splitlines()[-1:]}
    if engine == "spark" and (work / "events").exists():
        result |= event_totals(work / "events")
    if command == "customers" and code == 0:
        import pyarrow.dataset as ds

        result["customers"] = ds.dataset(output).count_rows()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a Parquet dataset folder (benchmarks/generate.py --files)")
    parser.add_argument("--commands", nargs="+", default=["kpis", "customers"])
    parser.add_argument("--engines", nargs="+", default=["spark", "local"])
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--shards", type=int, default=200, help="spark.sql.shuffle.partitions")
    parser.add_argument("--conf", nargs="*", default=[], help="more KEY=VALUE Spark settings")
    parser.add_argument("--local-limit", type=float, default=14.0, help="GiB at which a local run is stopped")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/spark-scale"))
    args = parser.parse_args()
    lines = None
    try:
        import pyarrow.dataset as ds

        lines = ds.dataset(args.data).count_rows()
    except Exception:  # a CSV or anything else: lines unknown
        pass
    for command in args.commands:
        for engine in args.engines:
            result = run(command, args.data, engine, args) | {"lines": lines}
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

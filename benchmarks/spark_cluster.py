"""A standalone Spark cluster on this machine — a master and two workers started from the
pyspark package on 127.0.0.1 — and retainkit run against it: the JSON must equal the local
engine's.

    python benchmarks/spark_cluster.py [EXPORT ...]      # default: the golden example

Each command is run with ``--engine local`` and with ``--engine spark --spark-master
spark://127.0.0.1:7077``; the script prints the wall time of each and whether the JSON is
the same, stops the processes it started, and exits 1 when any JSON differs.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "shop_small.csv"
MASTER_PORT = 7077
COMMANDS = ("kpis", "customers", "at-risk")


def spark_class() -> str:
    import pyspark

    return str(Path(pyspark.__file__).parent / "bin" / "spark-class")


def start(*args: str, log: Path) -> subprocess.Popen:
    env = os.environ | {"SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"}
    return subprocess.Popen([spark_class(), *args], stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)


def wait_for_port(port: int, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {seconds:.0f} s")


def run(command: str, export: Path, *engine: str) -> tuple[dict, float]:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "retainkit", command, str(export), "--format", "json", "--quiet",
                           *engine], capture_output=True, text=True, check=False,
                          env=os.environ | {"PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"})
    if done.returncode != 0:
        raise SystemExit(f"{command} {' '.join(engine)}: exit {done.returncode}: {done.stderr.strip()}")
    return json.loads(done.stdout), time.monotonic() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exports", nargs="*", type=Path, default=[GOLDEN])
    parser.add_argument("--logs", type=Path, default=Path("spark-cluster-logs"))
    args = parser.parse_args()
    args.logs.mkdir(exist_ok=True)
    master_url = f"spark://127.0.0.1:{MASTER_PORT}"
    started = [start("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(MASTER_PORT),
                     "--webui-port", "0", log=args.logs / "master.log")]
    try:
        wait_for_port(MASTER_PORT)
        for n in (1, 2):
            started.append(start("org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1",
                                 "--cores", "1", "--memory", "1g", "--webui-port", "0",
                                 log=args.logs / f"worker-{n}.log"))
        time.sleep(5)  # the workers register with the master
        different = 0
        for export in args.exports:
            for command in COMMANDS:
                local, local_seconds = run(command, export, "--engine", "local")
                remote, remote_seconds = run(command, export, "--engine", "spark", "--spark-master", master_url,
                                             "--spark-conf", "spark.executor.memory=1g",
                                             "--spark-conf", "spark.sql.shuffle.partitions=4")
                same = local == remote
                different += not same
                print(f"{export.name} {command}: local {local_seconds:.1f} s, cluster {remote_seconds:.1f} s, "
                      f"{'same JSON' if same else 'DIFFERENT JSON'}")
        return 1 if different else 0
    finally:
        for process in reversed(started):
            process.terminate()
        for process in started:
            process.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())

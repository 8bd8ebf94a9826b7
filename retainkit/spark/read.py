"""Inputs Spark reads → one Spark DataFrame of canonical columns, rows numbered (SPEC §1).

Parquet datasets (files, folders, hive partitions, globs, on any file system Spark knows)
and CSV files are read by Spark; a Spark DataFrame is taken as it is. Headers are mapped to
canonical fields by the same rules as locally (:func:`retainkit.load_formats.map_columns`).
CSV is read as text, as the local reader reads every field it interprets; nothing is parsed
here: dates, amounts and ids are read in the shards by :mod:`retainkit.normalise`.

Each row keeps where it came from: ``_file`` (the input's position, inputs ordered as the
local reader orders them) and ``_row`` (increasing through each input), so that a shard sees
its rows in the order the local engine sees them.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from retainkit.config import ReadOptions
from retainkit.errors import RetainkitError
from retainkit.load import DATA_SUFFIXES, expand_paths, export_order
from retainkit.load_formats import map_columns
from retainkit.schema import ColumnMapping
from retainkit.spark.session import first_line

FILE, ROW = "_file", "_row"
DATAFRAME_NAME = "Spark DataFrame"
_CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".txt")
_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class SparkInput:
    """The canonical Spark DataFrame (mapped fields, ``_file``, ``_row``), the input names
    by ``_file``, the header mapping, and the kind of input (``parquet``, ``csv``, ``spark``)."""

    frame: Any
    files: tuple[str, ...]
    mapping: ColumnMapping
    kind: str


def read_input(spark: Any, source: Sequence[str] | Any, options: ReadOptions) -> SparkInput:
    """Read ``source`` (paths, or a Spark DataFrame) into a :class:`SparkInput`."""
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as sf

    if isinstance(source, DataFrame):
        mapping = map_columns(list(source.columns), options.columns, source=DATAFRAME_NAME)
        frame = _canonical(source, mapping).withColumn(FILE, sf.lit(0))
        frame = frame.withColumn(ROW, sf.monotonically_increasing_id())
        return SparkInput(frame, (DATAFRAME_NAME,), mapping, "spark")
    paths = [str(p) for p in source]
    if not paths:
        raise RetainkitError("no input file given", "pass one or more files or folders")
    local = _local_files(paths)
    if local and all(_is_csv(p) for p in local):
        return _read_csv(spark, local, options)
    if not local and all(_is_csv(p) for p in paths):  # CSV files on another file system (s3a://…)
        return _read_csv(spark, paths, options)
    return _read_parquet(spark, paths, options)


def _local_files(paths: list[str]) -> list[str]:
    """The files of local ``paths`` as the local reader lists them ([] for other file systems)."""
    if not all(os.path.exists(p) for p in paths):
        return []
    return expand_paths(paths)


def _is_csv(name: str) -> bool:
    return name.lower().endswith(_CSV_SUFFIXES)


def _canonical(frame: Any, mapping: ColumnMapping) -> Any:
    from pyspark.sql import functions as sf

    return frame.select(*[sf.col(f"`{header}`").alias(name) for name, header in mapping.fields.items()])


def _read_parquet(spark: Any, paths: list[str], options: ReadOptions) -> SparkInput:
    from pyspark.sql import functions as sf

    shown = ", ".join(paths)
    try:
        raw = spark.read.option("mergeSchema", "true").parquet(*paths)
        mapping = map_columns(list(raw.columns), options.columns, source=shown)
        frame = _canonical(raw, mapping).withColumn("_name", sf.input_file_name())
        names = sorted(r[0] for r in frame.select("_name").distinct().collect())
    except RetainkitError:
        raise
    except Exception as err:
        raise RetainkitError(f"{shown}: Spark cannot read it as Parquet ({first_line(err)})",
                             "check the path and that it holds Parquet files") from None
    if not names:
        raise RetainkitError(f"{shown}: no data rows", "export some orders first")
    shown_names = _local_names(names, paths)
    order = sorted(range(len(names)), key=lambda i: shown_names[i][0])
    position = {names[i]: rank for rank, i in enumerate(order)}
    lookup = sf.create_map(*[x for name, rank in position.items() for x in (sf.lit(name), sf.lit(rank))])
    frame = frame.withColumn(FILE, lookup[sf.col("_name")]).withColumn(ROW, sf.monotonically_increasing_id())
    files = tuple(shown_names[i][1] for i in order)
    return SparkInput(frame.drop("_name"), files, mapping, "parquet")


def _local_names(uris: list[str], paths: list[str]) -> list[tuple[tuple[Any, ...], str]]:
    """For each file URI Spark read: its sort key (the given path's position, then the
    name in the local reader's order, :func:`~retainkit.load.export_order`) and its name as
    the local reader shows it (``folder/part-1.parquet``)."""
    out = []
    for uri in uris:
        local = unquote(uri[len("file:"):]) if uri.startswith("file:") else uri  # orders%20(1) is orders (1)
        local = "/" + local.lstrip("/") if uri.startswith("file:") else local
        for index, given in enumerate(paths):
            root = Path(given).resolve() if os.path.exists(given) else None
            if root is not None and root.is_dir() and local.startswith(str(root) + os.sep):
                name = str(Path(given) / os.path.relpath(local, root))
                out.append(((index, *export_order(Path(name))), name))
                break
            if root is not None and str(root) == local:
                out.append(((index, *export_order(Path(given))), given))
                break
        else:
            out.append(((len(paths), *export_order(Path(uri))), uri))
    return out


def _read_csv(spark: Any, files: list[str], options: ReadOptions) -> SparkInput:
    """Each CSV file read by Spark as text, headers mapped per file, rows in file order."""
    from pyspark.sql import functions as sf

    frames, mapping = [], None
    for index, name in enumerate(files):
        if not name.lower().endswith((*DATA_SUFFIXES, ".txt")):
            continue
        delimiter = _delimiter(spark, name)
        try:
            raw = (spark.read.option("header", "true").option("inferSchema", "false").option("multiLine", "true")
                   .option("sep", delimiter).option("encoding", options.encoding or "UTF-8")
                   .option("mode", "FAILFAST").csv(os.path.abspath(name) if os.path.exists(name) else name))
        except Exception as err:
            raise RetainkitError(f"{name}: Spark cannot read it as CSV ({first_line(err)})",
                                 "check the path and the file") from None
        headers = [h.lstrip("\ufeff").strip() for h in raw.columns]
        found = map_columns(headers, options.columns, source=name)
        raw_of: dict[str, str] = {}
        for header, trimmed in zip(raw.columns, headers, strict=True):
            raw_of.setdefault(trimmed, header)
        mapping = mapping or found
        frame = raw.select(*[sf.col(f"`{raw_of[h]}`").alias(f) for f, h in found.fields.items()])
        frames.append(frame.withColumn(FILE, sf.lit(index)).withColumn(ROW, sf.monotonically_increasing_id()))
    if not frames or mapping is None:
        raise RetainkitError(f"{', '.join(files)}: no CSV files to read", "pass CSV or Parquet files")
    combined = frames[0]
    for frame in frames[1:]:
        combined = combined.unionByName(frame, allowMissingColumns=True)
    return SparkInput(combined, tuple(files), mapping, "csv")


def _delimiter(spark: Any, name: str) -> str:
    """The delimiter that splits the header line into the most fields (``.tsv``: a tab)."""
    if name.lower().endswith((".tsv", ".tsv.gz")):
        return "\t"
    if not os.path.exists(name):  # a file Spark reads from elsewhere: its first line, by Spark
        first = spark.read.text(name).first()
        return _most_fields(first[0] if first else "")
    try:
        opener = gzip.open if name.lower().endswith(".gz") else open
        with opener(name, "rt", encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline()
    except OSError as exc:
        raise RetainkitError(f"{name}: cannot read ({exc.strerror or exc})") from None
    return _most_fields(header)


def _most_fields(header: str) -> str:
    """
    >>> _most_fields("a;b;c,d")
    ';'
    """
    counts = {d: header.lstrip("\ufeff").count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","

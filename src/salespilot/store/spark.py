"""A read-only store on Apache Spark, over a Parquet export (``salespilot export --parquet DIR``).

``open_spark_store(DIR)`` (the factory's ``--db spark:DIR``) registers every ``DIR/<table>.parquet``
as a view of a Spark session and reads ``DIR/settings.json``. The KPI layer needs only
``ibis()`` (an Ibis backend where the canonical tables exist) and ``settings()``.

Spark is optional (``pip install 'salespilot[spark]'``) and needs a Java 17+ runtime: nothing is
imported from pyspark until a store is opened, and a missing piece is reported in one sentence.

One Spark driver serves the whole process: local mode (``local[2]``), no web UI, errors-only
logs, bound to the loopback address. Each ``SparkStore`` works in its own session of it (its
own views and settings) and ``close()`` drops them; ``stop_spark()`` stops the driver.

Time: the session time zone is UTC and Parquet timestamps without zone are read as Spark's
``TIMESTAMP_NTZ``, so timestamps come back exactly as the store holds them: naive UTC, to the
microsecond; dates before 1582 too (Spark "rebases" old dates only in files that Spark 2
wrote). Ibis results come through Spark's Arrow path, not pandas (see ``_arrow_backend``).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from salespilot.errors import InternalError, MigrationError, StoreError, UserInputError
from salespilot.model import TABLES
from salespilot.settings import SETTINGS
from salespilot.store.export import SETTINGS as SETTINGS_FILE
from salespilot.store.export import read_manifest, table_file
from salespilot.store.migrations import available

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_HINT = "Spark support is not installed: install salespilot[spark] (pip install 'salespilot[spark]')."
JAVA_HINT = "Spark needs Java 17+; install a JRE (e.g. 'apt-get install default-jre-headless') or set JAVA_HOME."
MIN_JAVA = 17

# Settings of every session (runtime SQL settings: each new session gets them again).
SESSION_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    "spark.sql.ansi.enabled": "true",
}
# Settings of the driver, given when it starts.
DRIVER_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    **SESSION_CONF,
}

_lock = threading.Lock()
_base: SparkSession | None = None


# -- can Spark run here? ---------------------------------------------------------------------
def spark_unavailable() -> str | None:
    """Why Spark cannot run in this environment (a sentence saying what to install), or None."""
    for module in ("pyspark", "ibis.backends.pyspark"):
        try:
            found = importlib.util.find_spec(module)
        except ImportError:
            found = None
        if found is None:
            return INSTALL_HINT
    return java_problem()


def java_problem() -> str | None:
    """What is wrong with the Java runtime Spark would start (None when it is 17 or newer)."""
    java = _java_executable()
    if java is None:
        return JAVA_HINT
    version = _java_major(java)
    if version is None:
        return f"{JAVA_HINT} ({java} does not run.)"
    if version < MIN_JAVA:
        return f"{JAVA_HINT} ({java} is Java {version}.)"
    return None


def _java_executable() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.is_file() else None
    return shutil.which("java")


@functools.cache
def _java_major(java: str) -> int | None:
    try:
        run = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', run.stderr + run.stdout)
    if run.returncode != 0 or match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


# -- the driver --------------------------------------------------------------------------------
def _base_session() -> SparkSession:
    """The process's Spark driver, started on first use."""
    global _base
    with _lock:
        if _base is not None:
            return _base
        problem = spark_unavailable()
        if problem is not None:
            raise StoreError(problem)
        from pyspark.sql import SparkSession

        # Keep Spark on the loopback address, and its Python-side copy of query errors quiet.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
        log_conf = resources.files("salespilot.store") / "spark-log4j2.properties"
        builder = SparkSession.builder.master("local[2]").appName("salespilot")
        for key, value in DRIVER_CONF.items():
            builder = builder.config(key, value)
        log_uri = Path(str(log_conf)).absolute().as_uri()  # a URI: no space to split Java's options on
        builder = builder.config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log_uri}")
        # Spark's catalog wants a warehouse folder: a private one, not ./spark-warehouse.
        warehouse = tempfile.mkdtemp(prefix="salespilot-spark-")
        atexit.register(shutil.rmtree, warehouse, ignore_errors=True)
        builder = builder.config("spark.sql.warehouse.dir", warehouse)
        try:
            _base = builder.getOrCreate()
        except Exception as exc:  # the JVM did not start: say why in one paragraph
            raise StoreError(f"Spark could not start: {exc}".strip()[:2000]) from exc
        return _base


def stop_spark() -> None:
    """Stop the Spark driver (every SparkStore of the process stops working)."""
    global _base
    with _lock:
        if _base is not None:
            _base.stop()
            _base = None


# -- the store ---------------------------------------------------------------------------------
class SparkStore:
    """The canonical tables of a Parquet export, as views of a Spark session (read-only)."""

    kind = "spark"
    read_only = True

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory).expanduser()
        self.label = f"spark:{self.path}"
        self.name = self.path.name
        self.manifest = read_manifest(self.path)
        self._check_export()
        self._settings = self._read_settings()
        self._ibis: Any = None
        self._closed = False
        session = _base_session().newSession()
        for key, value in SESSION_CONF.items():
            session.conf.set(key, value)
        self._session = session
        try:
            for name in TABLES:
                session.read.parquet(str(self.path / table_file(name))).createOrReplaceTempView(name)
        except Exception as exc:
            raise StoreError(f"Spark cannot read the export at {self.path}: {exc}") from exc

    @property
    def session(self) -> SparkSession:
        if self._closed:
            raise InternalError(f"the Spark store {self.label} is closed")
        return self._session

    def ibis(self) -> Any:
        """An Ibis PySpark backend over this store's session (the canonical tables are its tables).

        Results come through Spark's own Arrow path (see ``_arrow_backend``), not through pandas.
        """
        if self._ibis is None:
            self._ibis = _arrow_backend()().connect(self.session)
        return self._ibis

    def settings(self) -> dict[str, str]:
        """The workspace settings of the exported store."""
        return dict(self._settings)

    def table_counts(self) -> dict[str, int]:
        """Rows per canonical table, as the manifest records them (checked against the files)."""
        return {name: int(self.manifest["tables"][name]["rows"]) for name in TABLES}

    def arrow(self, sql: str) -> pa.Table:
        """Run a Spark SQL read query and return an Arrow table."""
        from pyspark.errors import PySparkException

        try:
            result: pa.Table = self.session.sql(sql).toArrow()
        except PySparkException as exc:
            raise InternalError(f"Spark query failed ({sql.strip()[:200]}): {exc}") from exc
        return result

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):  # the driver may be stopped already
            for name in TABLES:
                self._session.catalog.dropTempView(name)

    def __enter__(self) -> SparkStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- checks --------------------------------------------------------------------------------
    def _check_export(self) -> None:
        known = max((m.version for m in available()), default=0)
        version = self.manifest.get("schema_version")
        if not isinstance(version, int) or version > known:
            raise MigrationError(
                f"The export at {self.path} has schema version {version}, newer than this SalesPilot knows "
                f"({known}). Upgrade SalesPilot to read it."
            )
        tables = self.manifest.get("tables")
        if not isinstance(tables, dict):
            raise UserInputError(f"The manifest of {self.path} lists no tables.")
        for name in TABLES:
            file = self.path / table_file(name)
            if name not in tables or not file.is_file():
                raise StoreError(f"The export at {self.path} is incomplete: {file.name} is missing. Export again.")
            try:
                rows = pq.ParquetFile(file).metadata.num_rows
            except (OSError, pa.ArrowException) as exc:
                raise StoreError(f"The export at {self.path} is damaged: {file.name}: {exc}. Export again.") from None
            if rows != tables[name].get("rows"):
                raise StoreError(
                    f"The export at {self.path} is damaged: {file.name} holds {rows} rows, the manifest says "
                    f"{tables[name].get('rows')}. Export again."
                )

    def _read_settings(self) -> dict[str, str]:
        path = self.path / SETTINGS_FILE
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            stored = {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"Cannot read {path}: {exc}") from None
        if not isinstance(stored, dict):
            raise StoreError(f"{path} does not hold the workspace settings.")
        return {name: str(stored.get(name, setting.default)) for name, setting in SETTINGS.items()}


@functools.cache
def _arrow_backend() -> Any:
    """Ibis's PySpark backend, with results read as Arrow straight from Spark.

    Ibis 12's ``to_pyarrow`` on PySpark goes through ``toPandas()``: slower, noisy with pandas 3,
    and it fails on timestamps outside pandas' nanosecond range (before 1677, after 2262).
    Spark's ``DataFrame.toArrow()`` keeps microseconds and every date.
    """
    import ibis
    from ibis.backends.pyspark import Backend
    from ibis.formats.pyarrow import PyArrowData

    if getattr(ibis.options, "pyspark", None) is None:
        ibis.load_backend("pyspark")  # registers ibis.options.pyspark, which the compiler reads

    class ArrowBackend(Backend):  # type: ignore[misc]
        def to_pyarrow(self, expr: Any, /, *, params: Any = None, limit: int | str | None = None, **kwargs: Any) -> Any:
            if self.mode == "streaming":
                return super().to_pyarrow(expr, params=params, limit=limit, **kwargs)
            table_expr = expr.as_table()
            self._run_pre_execute_hooks(table_expr)
            sql = self.compile(table_expr, params=params, limit=limit, **kwargs)
            with self._safe_raw_sql(sql) as query:
                table = query.toArrow()
            return expr.__pyarrow_result__(PyArrowData.convert_table(table, table_expr.schema()))

        def disconnect(self) -> None:
            """Leave the session alone: its SparkStore (and the driver) own it."""

    return ArrowBackend


def open_spark_store(directory: str | os.PathLike[str]) -> SparkStore:
    """Open the Parquet export ``directory`` on Spark (``--db spark:DIR``)."""
    return SparkStore(directory)

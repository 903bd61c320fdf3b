"""EMR packaging and step definitions (no AWS needed: they only produce files and JSON)."""

from __future__ import annotations

import json
import zipfile

import pytest

from scripts.emr.package import build
from scripts.emr.steps import batch_steps, main


def test_package_holds_the_jobs_package_scripts_and_profile(tmp_path):
    written = {p.name for p in build(tmp_path)}
    assert written == {"jobs.zip", "ingest.py", "similarity.py", "publish_mart.py", "emr.toml"}
    names = zipfile.ZipFile(tmp_path / "jobs.zip").namelist()
    assert "jobs/similarity.py" in names and "jobs/transform/neighbours.py" in names
    assert {"mart/schema.py", "mart/ddl/mysql.sql", "mart/ddl/sqlite.sql", "jobs/publish/mart.py"} <= set(names)
    assert "jobs/common/config.py" in names and not any("test" in n for n in names)


def test_steps_run_ingest_then_similarity_for_the_dt():
    steps = batch_steps("s3://code-bucket/code/", "2026-11-27", "lake-bucket",
                        {"MART_HOST": "db.internal", "MART_USER": "batch", "MART_SECRET": "prod/mart"})
    assert [s["Name"] for s in steps] == ["ingest 2026-11-27", "similarity 2026-11-27"]
    for step, job in zip(steps, ("ingest", "similarity")):
        args = step["Args"]
        assert args[0] == "spark-submit" and step["ActionOnFailure"] == "CANCEL_AND_WAIT"
        assert f"s3://code-bucket/code/{job}.py" in args
        assert args[args.index("--dt") + 1] == "2026-11-27"
        assert args[args.index("--py-files") + 1] == "s3://code-bucket/code/jobs.zip"
        assert "spark.yarn.appMasterEnv.LAKE_BUCKET=lake-bucket" in args
        assert "spark.yarn.appMasterEnv.MART_SECRET=prod/mart" in args
        assert args[args.index("--packages") + 1].startswith("com.mysql:mysql-connector-j:")


def test_steps_command_line_prints_json_and_refuses_bad_dates(capsys):
    mart = ["--mart-host", "h", "--mart-user", "u", "--mart-secret", "s"]
    assert main(["--code", "s3://c", "--dt", "2026-11-27", "--lake-bucket", "b", *mart]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    with pytest.raises(SystemExit):
        main(["--code", "s3://c", "--dt", "27/11/2026", "--lake-bucket", "b", *mart])


def test_each_job_gets_its_own_extra_arguments(capsys):
    mart = ["--mart-host", "h", "--mart-user", "u", "--mart-secret", "s"]
    assert main(["--code", "s3://c", "--dt", "2026-11-27", "--lake-bucket", "b", *mart,
                 "--ingest-args", "--source spotify --requests --set 'ingest.seeds=[\"IU\", \"Sam Kim\"]'",
                 "--similarity-args", "--metric cosine"]) == 0
    ingest, similarity = (step["Args"] for step in json.loads(capsys.readouterr().out))
    assert ingest[ingest.index("--dt") + 2:] == ["--source", "spotify", "--requests", "--set",
                                                 'ingest.seeds=["IU", "Sam Kim"]']
    assert similarity[similarity.index("--dt") + 2:] == ["--metric", "cosine"]
    with pytest.raises(SystemExit):
        main(["--code", "s3://c", "--dt", "2026-11-27", "--lake-bucket", "b", *mart, "--ingest-args", "'unclosed"])


def test_the_mart_ddl_loads_from_inside_jobs_zip(tmp_path):
    """On EMR the packages are imported from the zip (--py-files): DDL files are read as resources."""
    import subprocess
    import sys

    build(tmp_path)
    probe = ("import mart.schema as s; print(s.__file__); "
             "print(len(s.create_statements('mysql', 'artists')), len(s.create_statements('sqlite', 'artists')))")
    done = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path / "jobs.zip")}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    where, counts = done.stdout.split("\n")[:2]
    assert "jobs.zip" in where and counts == "1 4"     # SQLite: the table and its three indexes (schema version 2)


def test_the_bootstrap_action_pins_what_setup_py_pins_apart_from_spark():
    """EMR brings Spark and Delta; every other package the jobs import is installed at setup.py's version."""
    import re
    from importlib.metadata import distribution

    bootstrap = open("scripts/emr/bootstrap.sh", encoding="utf-8").read()
    pinned = dict(re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', bootstrap))
    required = {re.split(r"[=<>;\[ ]", r)[0].lower(): r for r in distribution("related-artists").requires or []
                if "extra ==" not in r}
    wanted = {name for name in required if name not in ("pyspark", "delta-spark")}
    assert set(pinned) == wanted
    for name, version in pinned.items():
        assert required[name].startswith(f"{name}=={version}"), required[name]

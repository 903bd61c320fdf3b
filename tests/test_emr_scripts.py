"""EMR packaging and step definitions (no AWS needed: they only produce files and JSON)."""

from __future__ import annotations

import json
import zipfile

import pytest

from scripts.emr.package import build
from scripts.emr.steps import batch_steps, main


def test_package_holds_the_jobs_package_scripts_and_profile(tmp_path):
    written = {p.name for p in build(tmp_path)}
    assert written == {"jobs.zip", "ingest.py", "similarity.py", "emr.toml"}
    names = zipfile.ZipFile(tmp_path / "jobs.zip").namelist()
    assert "jobs/similarity.py" in names and "jobs/transform/neighbours.py" in names
    assert "jobs/common/config.py" in names and not any("test" in n for n in names)


def test_steps_run_ingest_then_similarity_for_the_dt():
    steps = batch_steps("s3://code-bucket/code/", "2026-11-27", "lake-bucket")
    assert [s["Name"] for s in steps] == ["ingest 2026-11-27", "similarity 2026-11-27"]
    for step, job in zip(steps, ("ingest", "similarity")):
        args = step["Args"]
        assert args[0] == "spark-submit" and step["ActionOnFailure"] == "CANCEL_AND_WAIT"
        assert f"s3://code-bucket/code/{job}.py" in args
        assert args[args.index("--dt") + 1] == "2026-11-27"
        assert args[args.index("--py-files") + 1] == "s3://code-bucket/code/jobs.zip"
        assert "spark.yarn.appMasterEnv.LAKE_BUCKET=lake-bucket" in args


def test_steps_command_line_prints_json_and_refuses_bad_dates(capsys):
    assert main(["--code", "s3://c", "--dt", "2026-11-27", "--lake-bucket", "b"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    with pytest.raises(SystemExit):
        main(["--code", "s3://c", "--dt", "27/11/2026", "--lake-bucket", "b"])

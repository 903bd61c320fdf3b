"""EMR steps for one batch: ingest, then similarity, in that order.

    python scripts/emr/steps.py --code s3://my-bucket/code --lake-bucket my-lake --dt 2026-11-27 > steps.json
    aws emr add-steps --cluster-id j-XXXX --steps file://steps.json

``--code`` is the S3 folder where the output of ``scripts/emr/package.py`` was copied: ``jobs.zip`` (the ``jobs``
package), ``ingest.py``, ``similarity.py`` and ``emr.toml``. Each step is a spark-submit in
cluster mode; a failed ingest cancels the similarity step that follows it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from jobs.common.lake import parse_dt

JOBS = ("ingest", "similarity")


def batch_steps(code: str, dt: str, lake_bucket: str, extra: Sequence[str] = ()) -> list[dict]:
    """The step definitions (``aws emr add-steps`` JSON) that run one dt's batch."""
    dt = parse_dt(dt)
    code = code.rstrip("/")
    steps = []
    for job in JOBS:
        args = ["spark-submit", "--deploy-mode", "cluster",
                "--conf", f"spark.yarn.appMasterEnv.LAKE_BUCKET={lake_bucket}",
                "--py-files", f"{code}/jobs.zip",
                "--files", f"{code}/emr.toml",
                f"{code}/{job}.py", "--config", "emr.toml", "--dt", dt, *extra]
        steps.append({"Name": f"{job} {dt}", "ActionOnFailure": "CANCEL_AND_WAIT",
                      "Type": "CUSTOM_JAR", "Jar": "command-runner.jar", "Args": args})
    return steps


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", required=True, help="s3:// folder holding jobs.zip, the job scripts and emr.toml")
    parser.add_argument("--dt", required=True, help="snapshot date YYYY-MM-DD")
    parser.add_argument("--lake-bucket", required=True, help="bucket of the lake (LAKE_BUCKET in conf/emr.toml)")
    args = parser.parse_args(argv)
    try:
        steps = batch_steps(args.code, args.dt, args.lake_bucket)
    except ValueError as exc:
        parser.error(str(exc))
    json.dump(steps, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

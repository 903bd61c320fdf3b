"""EMR steps for one batch: ingest, then similarity, in that order.

    python scripts/emr/steps.py --code s3://my-bucket/code --lake-bucket my-lake --dt 2026-11-27 \
        --mart-host mart.xxxx.rds.amazonaws.com --mart-user batch --mart-secret prod/mart/batch \
        --ingest-args "--source spotify --refresh --requests --set spotify.credentials_secret=prod/spotify" \
        > steps.json
    aws emr add-steps --cluster-id j-XXXX --steps file://steps.json

``--ingest-args`` and ``--similarity-args`` are appended to that job's command line (shell-style
quoting); without them ingest runs the source of ``conf/emr.toml`` (synthetic).

``--code`` is the S3 folder where the output of ``scripts/emr/package.py`` was copied: ``jobs.zip`` (the ``jobs``
and ``mart`` packages), the entry scripts and ``emr.toml``. Each step is a spark-submit in
cluster mode; a failed ingest cancels the similarity step that follows it. The similarity step
publishes to the MySQL mart of ``conf/emr.toml``: host and user come from --mart-host and
--mart-user, the password from the AWS Secrets Manager secret --mart-secret (never from the
step's arguments); the MySQL JDBC driver is fetched from Maven Central (--packages).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Mapping, Sequence

from jobs.common.lake import parse_dt

JOBS = ("ingest", "similarity")
# Not part of EMR; resolved by spark-submit from Maven Central.
MYSQL_DRIVER = "com.mysql:mysql-connector-j:9.5.0"


def batch_steps(code: str, dt: str, lake_bucket: str, mart: Mapping[str, str] | None = None,
                extra: Mapping[str, Sequence[str]] | None = None) -> list[dict]:
    """The step definitions (``aws emr add-steps`` JSON) that run one dt's batch.

    ``mart`` holds the environment of conf/emr.toml's ``[mart]`` section: MART_HOST, MART_USER,
    MART_SECRET (the secret's id, not the password). ``extra`` maps a job name to arguments
    appended to its command line.
    """
    dt = parse_dt(dt)
    code = code.rstrip("/")
    environment = {"LAKE_BUCKET": lake_bucket, **(mart or {})}
    steps = []
    for job in JOBS:
        conf = [item for name, value in environment.items()
                for item in ("--conf", f"spark.yarn.appMasterEnv.{name}={value}")]
        args = ["spark-submit", "--deploy-mode", "cluster", "--packages", MYSQL_DRIVER, *conf,
                "--py-files", f"{code}/jobs.zip",
                "--files", f"{code}/emr.toml",
                f"{code}/{job}.py", "--config", "emr.toml", "--dt", dt, *(extra or {}).get(job, ())]
        steps.append({"Name": f"{job} {dt}", "ActionOnFailure": "CANCEL_AND_WAIT",
                      "Type": "CUSTOM_JAR", "Jar": "command-runner.jar", "Args": args})
    return steps


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", required=True, help="s3:// folder holding jobs.zip, the job scripts and emr.toml")
    parser.add_argument("--dt", required=True, help="snapshot date YYYY-MM-DD")
    parser.add_argument("--lake-bucket", required=True, help="bucket of the lake (LAKE_BUCKET in conf/emr.toml)")
    parser.add_argument("--mart-host", required=True, help="MySQL host of the mart (MART_HOST)")
    parser.add_argument("--mart-user", required=True, help="MySQL user of the batch (MART_USER)")
    parser.add_argument("--mart-secret", required=True,
                        help="AWS Secrets Manager id of the user's password (MART_SECRET)")
    for job in JOBS:
        parser.add_argument(f"--{job}-args", default="", metavar="ARGS",
                            help=f"more arguments for {job}.py, quoted as in a shell (see {job}.py --help)")
    args = parser.parse_args(argv)
    mart = {"MART_HOST": args.mart_host, "MART_USER": args.mart_user, "MART_SECRET": args.mart_secret}
    try:
        extra = {job: shlex.split(getattr(args, f"{job}_args")) for job in JOBS}
        steps = batch_steps(args.code, args.dt, args.lake_bucket, mart, extra)
    except ValueError as exc:
        parser.error(str(exc))
    json.dump(steps, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

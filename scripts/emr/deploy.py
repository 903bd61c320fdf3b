"""Deploy the daily batch on AWS: check the settings, upload the code package, create or update the stack.

    python -m scripts.emr.deploy --stack related-artists --bucket my-artifacts --lake s3://my-lake/lake \\
        --subnet subnet-0123456789abcdef0 \\
        --mart-url jdbc:mysql://mart.xxxx.ap-northeast-2.rds.amazonaws.com:3306/mart --mart-user batch \\
        --mart-secret arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:prod/mart/batch-AbCdEf \\
        [--spotify-secret ARN --ingest-args "--source spotify --refresh --requests"] [--schedule "cron(0 4 * * ? *)"]

Everything is checked before anything is created or uploaded: the settings themselves (release, time
zone, schedule, URLs, ARNs, each job's extra arguments against that job's own parser), the AWS
credentials and region, and both buckets. Then the package (scripts/emr/package.py) goes to
s3://BUCKET/code/<version>/ and the CloudFormation stack of scripts/emr/pipeline.yaml is created or
updated to run that version. Exit status: 0 deployed, 2 a setting to fix (nothing was created), 1 AWS
failed while deploying.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import tempfile
import zoneinfo
from collections.abc import Sequence
from pathlib import Path

from mart.url import MartUrl, MartUrlError, mask
from scripts.emr import package, steps
from scripts.emr.aws import AwsError, clients, require_bucket, require_credentials, stack_outputs
from shared.version import program_parser

REPO = Path(__file__).resolve().parents[2]

TEMPLATE = REPO / "scripts" / "emr" / "pipeline.yaml"
TEMPLATE_BODY_LIMIT = 51_200  # bytes CloudFormation takes inline
SCHEDULE = re.compile(r"^(cron\([^()]+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$")
# The template's MartPasswordSecretArn pattern: a secret's full ARN (its name and the six characters Secrets
# Manager adds), no wildcard, as the cluster's role may read that one secret.
SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$"
)
LAKE_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/([A-Za-z0-9_.=-]+(?:/[A-Za-z0-9_.=-]+)*)/?$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class SettingError(ValueError):
    """A deployment setting that cannot work; nothing has been created."""


class DeployFailed(RuntimeError):
    """AWS failed after the upload began (the package may be uploaded, the stack half-way)."""


def parse_args(argv: Sequence[str] | None):
    parser = program_parser(
        "python -m scripts.emr.deploy",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", required=True, help="CloudFormation stack name (also names the state machine)")
    parser.add_argument("--bucket", required=True, help="bucket for the code package and the cluster logs")
    parser.add_argument("--lake", required=True, metavar="S3_URI", help="the lake, s3://bucket/prefix")
    parser.add_argument("--subnet", required=True, help="subnet of the cluster (tagged for EMR's managed policies)")
    parser.add_argument("--mart-url", required=True, help="JDBC URL of the MySQL mart")
    parser.add_argument("--mart-user", required=True, help="MySQL user of the batch")
    parser.add_argument("--mart-secret", required=True, metavar="ARN", help="Secrets Manager ARN of its password")
    parser.add_argument(
        "--spotify-secret",
        default="",
        metavar="ARN",
        help="Secrets Manager ARN with the Spotify client_id and client_secret",
    )
    for job in steps.JOBS:
        parser.add_argument(
            f"--{job}-args",
            default="",
            metavar="ARGS",
            help=f"more arguments for {job}.py, quoted as in a shell (see jobs/{job}.py --help)",
        )
    parser.add_argument(
        "--schedule",
        default="cron(0 4 * * ? *)",
        help="EventBridge Scheduler expression (default: cron(0 4 * * ? *), 04:00 every day)",
    )
    parser.add_argument(
        "--time-zone", default="Asia/Seoul", help="time zone of the schedule and of the dt (default: Asia/Seoul)"
    )
    parser.add_argument("--paused", action="store_true", help="deploy with the schedule disabled")
    parser.add_argument("--release", default=next(iter(steps.RELEASES)), help="EMR release label")
    parser.add_argument("--primary-type", default="m5.xlarge", help="primary node instance type")
    parser.add_argument("--core-type", default="m5.xlarge", help="core node instance type")
    parser.add_argument("--core-count", type=int, default=2, help="core nodes (default 2)")
    parser.add_argument("--step-timeout-minutes", type=int, default=180, help="a step running longer fails the run")
    parser.add_argument(
        "--idle-timeout-minutes",
        type=int,
        default=60,
        help="an idle cluster terminates itself after this long (a backstop)",
    )
    parser.add_argument("--region", help="AWS region (default: boto3's, e.g. AWS_REGION)")
    return parser.parse_args(argv)


def stack_parameters(args) -> dict[str, str]:
    """The template's parameters from the command line; raises SettingError for any that cannot work."""
    if args.release not in steps.RELEASES:
        supported = ", ".join(f"{label} ({what})" for label, what in steps.RELEASES.items())
        raise SettingError(
            f"unknown EMR release {args.release!r}: the jobs need Spark 4.0, Delta 4.0 and "
            f"Python 3.11; supported: {supported}"
        )
    if not BUCKET.match(args.bucket):
        raise SettingError(f"{args.bucket!r} is not an S3 bucket name")
    lake = LAKE_URI.match(args.lake)
    if not lake:
        raise SettingError(f"--lake {args.lake!r} must be s3://bucket/prefix (a prefix is required)")
    try:
        zoneinfo.ZoneInfo(args.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SettingError(f"unknown time zone {args.time_zone!r}: use an IANA name such as Asia/Seoul") from None
    if not SCHEDULE.match(args.schedule):
        raise SettingError(f"--schedule {args.schedule!r} must be cron(...) or rate(N unit), e.g. cron(0 4 * * ? *)")
    require_mysql_url(args.mart_url)
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", args.mart_user):
        raise SettingError(f"--mart-user {args.mart_user!r} is not a MySQL user name")
    for option, arn in (("--mart-secret", args.mart_secret), ("--spotify-secret", args.spotify_secret)):
        if (arn or option == "--mart-secret") and not SECRET_ARN.fullmatch(arn):
            raise SettingError(
                f"{option} must be a Secrets Manager secret ARN in full "
                f"(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-xxxxxx, no wildcard), "
                f"not {arn!r}: the cluster's role may read that secret only"
            )
    if not re.fullmatch(r"subnet-[0-9a-f]{8,17}", args.subnet):
        raise SettingError(f"--subnet {args.subnet!r} is not a subnet id (subnet-...)")
    if not 1 <= args.core_count <= 50:
        raise SettingError(f"--core-count must be within 1..50, not {args.core_count}")
    if args.step_timeout_minutes < 10 or args.idle_timeout_minutes < 1:
        raise SettingError("--step-timeout-minutes must be at least 10 and --idle-timeout-minutes at least 1")
    extra = {job: job_extra(job, getattr(args, f"{job}_args")) for job in steps.JOBS}
    return {
        "ArtifactBucket": args.bucket,
        "LakeBucket": lake.group(1),
        "LakePrefix": lake.group(2),
        "MartJdbcUrl": args.mart_url,
        "MartUser": args.mart_user,
        "MartPasswordSecretArn": args.mart_secret,
        "SpotifySecretArn": args.spotify_secret,
        "IngestArguments": json.dumps(extra["ingest"]),
        "SimilarityArguments": json.dumps(extra["similarity"]),
        "ReleaseLabel": args.release,
        "SubnetId": args.subnet,
        "PrimaryInstanceType": args.primary_type,
        "CoreInstanceType": args.core_type,
        "CoreInstanceCount": str(args.core_count),
        "StepTimeoutSeconds": str(args.step_timeout_minutes * 60),
        "IdleTimeoutSeconds": str(args.idle_timeout_minutes * 60),
        "ScheduleExpression": args.schedule,
        "ScheduleTimeZone": args.time_zone,
        "ScheduleState": "DISABLED" if args.paused else "ENABLED",
    }


def require_mysql_url(text: str) -> None:
    """``--mart-url`` parsed once; raises SettingError unless it is a ``jdbc:mysql://`` URL (the cluster
    ships Connector/J only) without credentials (they would be written into the steps' arguments) and
    without ``"`` or ``\\`` (it is written verbatim into a TOML string of the steps)."""
    try:
        url = MartUrl.parse(text)
    except MartUrlError:
        url = None
    if url is None or not text.startswith("jdbc:mysql://") or '"' in text or "\\" in text:
        raise SettingError(f"--mart-url {mask(text)!r} must be jdbc:mysql://host:port/database")
    if url.has_credentials:
        raise SettingError(
            f"--mart-url {mask(text)!r} carries a user or password: give the user with "
            "--mart-user and the password in the secret of --mart-secret"
        )


def job_extra(job: str, text: str) -> list[str]:
    """Split a job's extra arguments and check them with the job's own parser (as the step will run it)."""
    try:
        extra = shlex.split(text)
    except ValueError as exc:
        raise SettingError(f"--{job}-args: {exc}") from None
    if "--dt" in extra or "--config" in extra:
        raise SettingError(f"--{job}-args may not set --dt or --config: the run sets them")
    from jobs import ingest, similarity

    parse = {"ingest": ingest.parse_args, "similarity": similarity.parse_args}[job]
    try:
        parse(["--dt", "2026-01-01", *extra])
    except SystemExit:
        raise SettingError(f"--{job}-args {text!r} are not arguments of jobs/{job}.py (see above)") from None
    return extra


def deploy(args, parameters: dict[str, str]) -> dict[str, str]:
    """Check AWS, upload the package, create or update the stack; returns the stack's outputs."""
    s3, sts, cloudformation = clients("s3", "sts", "cloudformation", region=args.region)
    account = require_credentials(sts)
    require_bucket(s3, parameters["ArtifactBucket"])
    require_bucket(s3, parameters["LakeBucket"])
    body = TEMPLATE.read_text(encoding="utf-8")
    if len(body.encode()) > TEMPLATE_BODY_LIMIT:
        raise AwsError(f"{TEMPLATE} is over CloudFormation's {TEMPLATE_BODY_LIMIT:,} bytes for an inline template")
    with tempfile.TemporaryDirectory() as scratch:
        files, version = package.build_package(Path(scratch))
        try:
            keys = package.upload(s3, Path(scratch), files, parameters["ArtifactBucket"], f"code/{version}")
        except AwsError as exc:
            raise DeployFailed(str(exc)) from None
    print(f"account {account}: uploaded {len(keys)} files to s3://{parameters['ArtifactBucket']}/code/{version}/")
    try:
        create_or_update(cloudformation, args.stack, body, {**parameters, "CodeVersion": version})
        return stack_outputs(cloudformation, args.stack)
    except AwsError as exc:
        raise DeployFailed(str(exc)) from None


def create_or_update(cloudformation, stack: str, body: str, parameters: dict[str, str]) -> None:
    from botocore.exceptions import ClientError, WaiterError

    request = {
        "StackName": stack,
        "TemplateBody": body,
        "Capabilities": ["CAPABILITY_IAM"],
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Tags": [{"Key": "related-artists:pipeline", "Value": stack}],
    }
    try:
        exists = bool(cloudformation.describe_stacks(StackName=stack)["Stacks"])
    except ClientError:
        exists = False
    try:
        if exists:
            cloudformation.update_stack(**request)
            waiter = cloudformation.get_waiter("stack_update_complete")
        else:
            cloudformation.create_stack(**request)
            waiter = cloudformation.get_waiter("stack_create_complete")
    except ClientError as exc:
        if "No updates are to be performed" in str(exc):
            print(f"stack {stack}: already up to date")
            return
        raise AwsError(f"CloudFormation refused the stack {stack}: {exc}") from None
    print(f"stack {stack}: {'updating' if exists else 'creating'} (a few minutes)...")
    try:
        waiter.wait(StackName=stack, WaiterConfig={"Delay": 10, "MaxAttempts": 180})
    except WaiterError as exc:
        raise AwsError(
            f"stack {stack} did not finish: {exc}; see its events: aws cloudformation "
            f"describe-stack-events --stack-name {stack}"
        ) from None
    print(f"stack {stack}: {'updated' if exists else 'created'}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        parameters = stack_parameters(args)
    except SettingError as exc:
        print(f"deploy: {exc}; nothing was created", file=sys.stderr)
        return 2
    from scripts.emr.maven import JarError

    try:
        outputs = deploy(args, parameters)
    except (AwsError, JarError) as exc:
        print(f"deploy: {exc}; nothing was created", file=sys.stderr)
        return 2
    except DeployFailed as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    for key, value in sorted(outputs.items()):
        print(f"{key}: {value}")
    print(f"run it now: python -m scripts.emr.run --stack {args.stack} --dt YYYY-MM-DD")
    return 0


if __name__ == "__main__":
    sys.exit(main())

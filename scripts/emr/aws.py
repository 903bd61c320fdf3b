"""boto3 clients for the EMR scripts, and the checks that fail clearly before anything is created.

Region, credentials and endpoint come from boto3's own settings (AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL, ~/.aws/...).
"""

from __future__ import annotations

from typing import Any


class AwsError(RuntimeError):
    """A setting or an AWS answer that stops a script; the message says what to do."""


def clients(*services: str, region: str | None = None) -> list[Any]:
    """One boto3 client per service name, with short connect timeouts."""
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import NoRegionError
    except ImportError:
        raise AwsError("the EMR scripts need boto3: run `make setup` and `. .venv/bin/activate`") from None
    config = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 4, "mode": "standard"})
    session = boto3.session.Session(region_name=region)  # its own: credentials are looked up afresh
    try:
        return [session.client(name, config=config) for name in services]
    except NoRegionError:
        raise AwsError("no AWS region: set AWS_REGION (or a region in ~/.aws/config, or --region)") from None


def require_credentials(sts) -> str:
    """The account id of the credentials in use; refuses when there are none or AWS rejects them."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        return sts.get_caller_identity()["Account"]
    except NoCredentialsError:
        raise AwsError(
            "no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), "
            "or run `aws configure`"
        ) from None
    except ClientError as exc:
        raise AwsError(f"AWS refused the credentials: {exc}") from None
    except BotoCoreError as exc:
        raise AwsError(f"cannot reach AWS to check the credentials: {exc}") from None


def require_bucket(s3, bucket: str) -> None:
    """Refuses a bucket that does not exist or that these credentials may not use."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise AwsError(f"bucket {bucket} does not exist: create it first (aws s3 mb s3://{bucket})") from None
        if code in ("403", "AccessDenied", "Forbidden"):
            raise AwsError(f"bucket {bucket} is not accessible with these credentials (access denied)") from None
        raise AwsError(f"cannot use bucket {bucket}: {exc}") from None
    except BotoCoreError as exc:
        raise AwsError(f"cannot reach S3 to check bucket {bucket}: {exc}") from None


def stack_outputs(cloudformation, stack: str) -> dict[str, str]:
    """The outputs of a deployed stack, by key."""
    from botocore.exceptions import ClientError

    try:
        found = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        raise AwsError(f"no stack {stack}: deploy it with python -m scripts.emr.deploy ({exc})") from None
    return {o["OutputKey"]: o["OutputValue"] for o in found[0].get("Outputs", [])}

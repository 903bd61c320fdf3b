"""Package what the EMR cluster runs, and upload it under a versioned S3 prefix.

    python -m scripts.emr.package                                  # build into dist/emr, print the files
    python -m scripts.emr.package --bucket my-artifacts            # ... and upload to s3://my-artifacts/code/<version>/

The package: ``jobs.zip`` (``--py-files``: the ``jobs``, ``mart`` and ``shared`` packages with the mart's DDL files),
every entry script of ``jobs/`` (``jobs/<name>.py`` run as ``__main__``), ``emr.toml``, the bootstrap
action ``bootstrap.sh`` with the ``requirements.lock`` it installs (every package pinned, with hashes),
and ``jars/`` with the MySQL JDBC driver (resolved from Maven Central into
``.cache/maven`` once; the steps pass it with ``--jars``, so EMR never reaches Maven).

The version is the package's own: the project version and the first 12 hex digits of a SHA-256 over
every file's name and bytes (the zip is built byte for byte the same from the same sources). The same
code gives the same prefix; a changed file gives a new one, so a running cluster never sees its code
change under it.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from shared.version import installed_version, program_parser

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "conf" / "emr.toml"
BOOTSTRAP = REPO / "scripts" / "emr" / "bootstrap.sh"
LOCK = REPO / "scripts" / "emr" / "requirements.lock"  # bootstrap.sh's argument: pip --require-hashes -r LOCK
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def entry_scripts() -> list[Path]:
    """Every ``jobs/*.py`` that runs as a program (has a ``__main__`` guard), sorted by name."""
    return sorted(
        path
        for path in (REPO / "jobs").glob("*.py")
        if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8")
    )


def build(out: Path, jars: Sequence[Path] = ()) -> list[Path]:
    """Write the package into ``out``: jobs.zip, the entry scripts, emr.toml, bootstrap.sh, requirements.lock, jars/.

    Returns the paths written, which are the whole package (other files in ``out`` are not part of it).
    """
    out.mkdir(parents=True, exist_ok=True)
    archive = out / "jobs.zip"
    sources = [
        *(REPO / "jobs").rglob("*.py"),
        *(REPO / "mart").rglob("*.py"),
        *(REPO / "shared").rglob("*.py"),
        *(REPO / "mart" / "ddl").glob("*.sql"),
    ]
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(sources, key=lambda p: p.relative_to(REPO).as_posix()):
            info = zipfile.ZipInfo(path.relative_to(REPO).as_posix(), date_time=ZIP_TIME)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    written = [archive]
    for source in (*entry_scripts(), CONFIG, BOOTSTRAP, LOCK):
        written.append(Path(shutil.copyfile(source, out / source.name)))
    if jars:
        (out / "jars").mkdir(exist_ok=True)
    for jar in jars:
        written.append(Path(shutil.copyfile(jar, out / "jars" / jar.name)))
    return written


def version(out: Path, files: Sequence[Path]) -> str:
    """``<project version>-<12 hex digits>`` of the package's content."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(out).as_posix()):
        digest.update(path.relative_to(out).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    project = installed_version() or "0"
    return f"{project}-{digest.hexdigest()[:12]}"


def upload(s3, out: Path, files: Sequence[Path], bucket: str, prefix: str) -> list[str]:
    """Copy ``files`` to ``s3://bucket/prefix/<path in out>``; returns the keys written."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    from scripts.emr.aws import AwsError

    keys = []
    for path in files:
        key = f"{prefix.strip('/')}/{path.relative_to(out).as_posix()}"
        try:
            s3.upload_file(str(path), bucket, key)
        except (S3UploadFailedError, BotoCoreError, ClientError) as exc:
            raise AwsError(f"uploading s3://{bucket}/{key} failed: {exc}") from None
        keys.append(key)
    return keys


def build_package(out: Path) -> tuple[list[Path], str]:
    """Resolve the JDBC driver, build the package into ``out``; returns the files and the version."""
    from scripts.emr import maven

    files = build(out, [maven.resolve(maven.mysql_driver())])
    return files, version(out, files)


def main(argv: Sequence[str] | None = None) -> int:
    parser = program_parser(
        "python -m scripts.emr.package",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default=str(REPO / "dist" / "emr"), help="build folder (default: dist/emr)")
    parser.add_argument("--bucket", help="upload to this S3 bucket (credentials and region: the usual AWS settings)")
    parser.add_argument("--prefix", default="code", help="key prefix; the version is added below it (default: code)")
    args = parser.parse_args(argv)
    from scripts.emr import maven

    out = Path(args.out)
    try:
        files, label = build_package(out)
    except maven.JarError as exc:
        print(f"package: {exc}", file=sys.stderr)
        return 2
    for path in files:
        print(f"{path}  {path.stat().st_size:,} bytes")
    print(f"version {label}")
    if args.bucket:
        from scripts.emr.aws import AwsError, clients, require_bucket, require_credentials

        try:
            s3, sts = clients("s3", "sts")
            require_credentials(sts)
            require_bucket(s3, args.bucket)
            keys = upload(s3, out, files, args.bucket, f"{args.prefix}/{label}")
        except AwsError as exc:
            print(f"package: {exc}", file=sys.stderr)
            return 2
        print(f"uploaded {len(keys)} files to s3://{args.bucket}/{args.prefix}/{label}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

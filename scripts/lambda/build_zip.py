"""Build the chatbot Lambda's deployment zip: the chatbot_lambda, mart and shared
packages (with the mart's DDL files) and the pinned dependencies of chatbot_lambda/requirements.txt, as Linux x86_64 CPython 3.11 wheels.

    python scripts/lambda/build_zip.py [--out dist/chatbot_lambda.zip] [--max-mb 15] [--ca-bundle FILE]

Lambda settings: runtime python3.11, handler chatbot_lambda.handler.lambda_handler. boto3 is not bundled:
the Lambda runtime provides it. PyMySQL comes with cryptography (MySQL 8's caching_sha2_password login).
--ca-bundle puts a CA bundle (e.g. RDS's global-bundle.pem) into the zip as certs/mart-ca.pem: set
MART_SSL_CA=certs/mart-ca.pem and the chatbot talks to the mart over TLS, verifying the server. pip fetches the wheels from PyPI, or from wherever its own settings say
(PIP_INDEX_URL, PIP_FIND_LINKS, ...). The zip is deterministic (sorted entries, fixed timestamps and
modes), so building the same sources twice gives the same bytes. Prints the zip's path, file count and
size; exits 1 when the zip is larger than --max-mb (the zip is then removed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from shared.version import program_parser

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("chatbot_lambda", "mart", "shared")
REQUIREMENTS = REPO / "scripts" / "lambda" / "requirements.lock"  # chatbot_lambda/requirements.txt, locked with hashes
DEFAULT_OUT = REPO / "dist" / "chatbot_lambda.zip"
CA_BUNDLE_NAME = "certs/mart-ca.pem"  # MART_SSL_CA's value when the zip carries the bundle
# The Lambda python3.11 runtime on x86_64: pip picks wheels for it whatever machine builds the zip.
PIP_TARGET_PLATFORM = ("--platform", "manylinux2014_x86_64", "--python-version", "3.11", "--implementation", "cp")
FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can carry
FILE_MODE, DIR_MODE = 0o100644, 0o040755  # regular file rw-r--r--, directory rwxr-xr-x
MSDOS_DIRECTORY = 0x10
MB = 1024 * 1024


class BuildError(Exception):
    """The zip could not be built or is unfit to deploy; the message says why."""


def project_files() -> dict[str, Path]:
    """The repository's files that go into the zip, by archive name: every ``*.py`` of PACKAGES and the
    mart's ``ddl/*.sql``, without caches and tests."""
    files = {}
    for package in PACKAGES:
        root = REPO / package
        for path in [*root.rglob("*.py"), *(root / "ddl").glob("*.sql")]:
            relative = path.relative_to(REPO)
            if not _is_test_or_cache(relative):
                files[relative.as_posix()] = path
    return files


def _is_test_or_cache(relative: Path) -> bool:
    """Whether ``relative`` lies in a cache or test folder, or is a test module."""
    if any(part in ("__pycache__", "tests", "test") for part in relative.parts[:-1]):
        return True
    return relative.name.startswith("test_") or relative.name.endswith("_test.py")


def install_dependencies(requirements: Path, target: Path) -> None:
    """pip-install the locked ``requirements`` (wheels only, each matching one of the lock's hashes, no
    transitive dependencies, no ``.pyc``) for the Lambda runtime into ``target``; raises BuildError with
    pip's output when pip fails."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--no-deps",
        "--require-hashes",
        "--only-binary=:all:",
        *PIP_TARGET_PLATFORM,
        "-r",
        str(requirements),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(
            f"pip could not install {requirements} (exit {done.returncode}):\n{done.stderr or done.stdout}"
        )


def dependency_files(target: Path) -> dict[str, Path]:
    """The files pip installed under ``target``, by archive name, without ``__pycache__`` and ``.pyc``."""
    files = {}
    for path in target.rglob("*"):
        relative = path.relative_to(target)
        if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc":
            files[relative.as_posix()] = path
    return files


def merge(project: dict[str, Path], dependencies: dict[str, Path]) -> dict[str, Path]:
    """Both file sets in one; raises BuildError when a dependency would overwrite a project file."""
    clashes = sorted(project.keys() & dependencies.keys())
    if clashes:
        raise BuildError(f"dependencies would overwrite project files: {', '.join(clashes)}")
    return {**project, **dependencies}


def folders(names: Iterable[str]) -> set[str]:
    """Every folder (as ``a/b/``) that holds one of the archive ``names``, at any depth."""
    found = set()
    for name in names:
        parts = name.split("/")[:-1]
        found.update("/".join(parts[:depth]) + "/" for depth in range(1, len(parts) + 1))
    return found


def write_zip(files: dict[str, Path], out: Path) -> None:
    """Write ``files`` (archive name -> source) to ``out`` deterministically: folder entries included
    (namespace packages import from the zip too), entries sorted, fixed timestamps and Unix modes,
    deflated."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted({*files, *folders(files)}):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            info.create_system = 3  # Unix, so Lambda honours the modes below
            if name.endswith("/"):
                info.external_attr = (DIR_MODE << 16) | MSDOS_DIRECTORY
                zf.writestr(info, b"")
            else:
                info.external_attr = FILE_MODE << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, files[name].read_bytes())


def build(out: Path, requirements: Path = REQUIREMENTS, ca_bundle: Path | None = None) -> int:
    """Build the deployment zip at ``out`` (with ``ca_bundle`` as ``CA_BUNDLE_NAME`` when given); returns
    the number of files in it (folders not counted)."""
    project = project_files()
    if ca_bundle is not None:
        if not ca_bundle.is_file() or b"-----BEGIN CERTIFICATE-----" not in ca_bundle.read_bytes():
            raise BuildError(f"--ca-bundle {ca_bundle} is not a file of PEM certificates")
        project[CA_BUNDLE_NAME] = ca_bundle
    with tempfile.TemporaryDirectory(prefix="chatbot_lambda_deps_") as target:
        install_dependencies(requirements, Path(target))
        files = merge(project, dependency_files(Path(target)))
        write_zip(files, out)
    return len(files)


def check_size(out: Path, max_mb: float) -> float:
    """The size of ``out`` in MB; removes ``out`` and raises BuildError when it exceeds ``max_mb``."""
    size_mb = out.stat().st_size / MB
    if size_mb > max_mb:
        out.unlink()
        raise BuildError(f"{out} is {size_mb:.3f} MB, over the {max_mb:g} MB limit (--max-mb); removed it")
    return size_mb


def main(argv: Sequence[str] | None = None) -> int:
    parser = program_parser(
        "python scripts/lambda/build_zip.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Deploy it with the SAM template next to this script:\n"
        "  sam deploy --template-file scripts/lambda/template.yaml --guided",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="ZIP",
        help="the zip to write (default: dist/chatbot_lambda.zip)",
    )
    parser.add_argument(
        "--max-mb",
        type=float,
        default=15.0,
        metavar="MB",
        help="fail (exit 1) when the zip is larger than this many MB (default: 15)",
    )
    parser.add_argument(
        "--ca-bundle", type=Path, metavar="PEM", help=f"a CA bundle to ship as {CA_BUNDLE_NAME} (for MART_SSL_CA)"
    )
    args = parser.parse_args(argv)
    try:
        count = build(args.out, ca_bundle=args.ca_bundle)
        size_mb = check_size(args.out, args.max_mb)
    except BuildError as exc:
        print(f"build_zip: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {count} files, {size_mb:.3f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

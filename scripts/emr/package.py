"""Build what EMR steps need into one folder: jobs.zip (--py-files: the jobs and mart packages, with
the mart's DDL files), the entry scripts, emr.toml.

    python scripts/emr/package.py [--out dist/emr]
    aws s3 cp --recursive dist/emr s3://my-bucket/code/

Prints the files written and their sizes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parents[2]
ENTRY_SCRIPTS = ("ingest", "similarity", "publish_mart")


def build(out: Path) -> list[Path]:
    """Write jobs.zip, the entry scripts and emr.toml into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    archive = out / "jobs.zip"
    files = [*(REPO / "jobs").rglob("*.py"), *(REPO / "mart").rglob("*.py"), *(REPO / "mart" / "ddl").glob("*.sql")]
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(files):
            zf.write(path, path.relative_to(REPO).as_posix())
    written = [archive]
    for source in (*(REPO / "jobs" / f"{job}.py" for job in ENTRY_SCRIPTS), REPO / "conf" / "emr.toml"):
        written.append(Path(shutil.copy2(source, out / source.name)))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "dist" / "emr"), help="output folder (default: dist/emr)")
    args = parser.parse_args(argv)
    for path in build(Path(args.out)):
        print(f"{path}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

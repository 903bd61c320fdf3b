#!/usr/bin/env bash
# EMR bootstrap action: the Python packages the jobs import, on every node, from requirements.lock.
# EMR (emr-spark-8.0.0) brings Spark 4.0.2 and Delta 4.0.0 itself; this adds the numeric stack,
# spotipy (the Spotify source of the ingest job) and PyMySQL (publish_mart.py status --show reads the
# mart the way the chatbot does). boto3 is part of EMR. The cluster runs PySpark on Python 3.11
# (spark.pyspark.python in scripts/emr/pipeline.yaml), so the packages go to that interpreter.
# pip needs PyPI (a NAT gateway, or a mirror named by PIP_INDEX_URL in /etc/pip.conf).
#
# Usage: bootstrap.sh LOCK, where LOCK is the package's requirements.lock (an s3:// URI or a file).
# Every package, its dependencies included, is installed at the lock's version and only if its
# file matches one of the lock's hashes (pip --require-hashes); nothing else is resolved.
set -euo pipefail
PYTHON=/usr/bin/python3.11
# The packages the jobs import, pinned like setup.py: the lock must pin each at this version.
PACKAGES=("numpy==2.2.6" "scipy==1.15.3" "pyarrow==20.0.0" "pandas==2.2.3" "spotipy==2.25.1" "pymysql==1.1.1")
LOCK_SOURCE=${1:?usage: bootstrap.sh s3://BUCKET/code/VERSION/requirements.lock}
LOCK=$LOCK_SOURCE
if [[ $LOCK_SOURCE == s3://* ]]; then
  LOCK=$(mktemp)
  aws s3 cp --quiet "$LOCK_SOURCE" "$LOCK"
fi
for package in "${PACKAGES[@]}"; do
  if ! grep -q "^${package} " "$LOCK"; then
    echo "bootstrap: $LOCK_SOURCE does not pin $package" >&2
    exit 1
  fi
done
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
  sudo dnf install -y -q python3.11-pip
fi
sudo "$PYTHON" -m pip install --quiet --require-hashes --no-deps --only-binary=:all: -r "$LOCK"

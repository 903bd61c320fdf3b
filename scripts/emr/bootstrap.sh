#!/usr/bin/env bash
# EMR bootstrap action: the Python packages the jobs import, on every node, pinned like setup.py.
# EMR (emr-spark-8.0.0) brings Spark 4.0.2 and Delta 4.0.0 itself; this adds the numeric stack and
# spotipy (the Spotify source of the ingest job) and PyMySQL (publish_mart.py status --show reads the
# mart the way the chatbot does). boto3 is part of EMR.
set -euo pipefail
sudo python3 -m pip install --quiet "numpy==2.2.6" "scipy==1.15.3" "pyarrow==20.0.0" "pandas==2.2.3" \
  "spotipy==2.25.1" "pymysql==1.1.1"

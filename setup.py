"""Related-artist recommender: Spark batch jobs (ingest, similarity) and a Kakao chatbot Lambda."""

from setuptools import find_packages, setup

# Pinned to the EMR release of docs/design.md, "Platforms" (emr-spark-8.0.0: Spark 4.0.2, Delta 4.0.0, Python 3.11).
SPARK = ["pyspark==4.0.2", "delta-spark==4.0.0"]
NUMERIC = ["numpy==2.2.6", "scipy==1.15.3", "pyarrow==20.0.0", "pandas==2.2.3"]
# The chatbot's MySQL client (also what tests read the mart with, the way the chatbot does).
MART_CLIENT = ["pymysql==1.1.1"]
# The Spotify Web API client of the ingest job (and, later, the chatbot's live lookups).
SPOTIFY = ["spotipy==2.25.1"]
# The plots of jobs/evaluate.py's report (a local job: not installed on EMR).
EVALUATE = ["matplotlib==3.10.3"]

setup(
    name="related-artists",
    version="0.1.0",
    license="Apache-2.0",
    description=__doc__,
    python_requires=">=3.11,<3.12",
    packages=find_packages(
        include=["jobs", "jobs.*", "mart", "mart.*", "shared", "shared.*", "chatbot_lambda", "chatbot_lambda.*"]
    ),
    package_data={"mart": ["ddl/*.sql"], "chatbot_lambda": ["preview/*"]},
    install_requires=SPARK + NUMERIC + MART_CLIENT + SPOTIFY,
    extras_require={
        "evaluate": EVALUATE,
        # boto3 and moto's server stand in for AWS (Secrets Manager, S3, ...) on 127.0.0.1.
        "test": [
            "pytest==8.4.2",
            "chispa==0.11.1",
            "psutil==7.1.0",
            "boto3==1.40.0",
            "moto[server]==5.1.18",
            "hypothesis==6.170.17",
            "cfn-lint==1.58.0",
            *EVALUATE,
            # `make test-parallel`: the suite spread over workers (tests/support/parallel.py)
            "pytest-xdist==3.8.0",
            "execnet==2.1.2",
            # drives Debian's chromium (chromium-driver) for the browser preview's test
            "selenium==4.51.0",
            # evaluates the EMR state machine's JSONata expressions in its tests
            "jsonata-python==0.7.1",
            # bench/vectors.py's reference engine (the same vectors from the lake's Parquet files)
            "duckdb==2.0.0",
            # make test-clock: the tests' clock moved ahead (tests/conftest.py)
            "time-machine==3.6.0",
            # make lint / make format: lint, import order and formatting (settings in pyproject.toml)
            "ruff==0.17.6",
        ],
    },
)

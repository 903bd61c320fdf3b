"""Spark batch jobs: ``ingest`` brings data into the lake, ``similarity`` turns it into related artists."""

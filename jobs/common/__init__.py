"""Helpers shared by the jobs: configuration, Spark start-up, the lake, command lines, timing."""

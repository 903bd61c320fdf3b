"""Evaluation helpers that run on the driver: the weight search of ``--fit`` and the HTML report."""

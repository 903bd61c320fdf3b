"""IAM statements of a CloudFormation template, for the deploy tests."""

from __future__ import annotations


def iam_statements(node):
    """Every IAM statement under ``node``, both branches of Fn::If included."""
    if isinstance(node, dict):
        if "Effect" in node:
            yield node
        for value in node.values():
            yield from iam_statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from iam_statements(value)

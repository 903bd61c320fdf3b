"""Transforms from lake snapshots to related artists: vectors, distances, neighbour search."""

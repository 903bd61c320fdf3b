"""Publishing one lake snapshot: read its tables, shape them for the mart, publish."""

from __future__ import annotations

from typing import Mapping

from pyspark.sql import DataFrame

from jobs.common.lake import Lake
from jobs.publish.frames import mart_frames
from jobs.publish.mart import Mart, PublishReport


def publish_snapshot(mart: Mart, lake: Lake, dt: str, *, artists: DataFrame | None = None,
                     top_tracks: DataFrame | None = None, parameters: Mapping | None = None,
                     force: bool = False, artists_with_vector: int | None = None,
                     k: int | None = None) -> PublishReport:
    """Publish the lake snapshot ``dt`` (frames already read may be passed in).

    ``artists_with_vector`` and ``k`` are the checks' expectations (see ``Mart.publish``): without
    ``artists_with_vector``, the artists with a vector are the related set's own artists.
    """
    aliases = lake.read("artist_aliases", dt).select("artist_id", "alias") \
        if dt in lake.snapshots("artist_aliases") else None
    frames = mart_frames(artists if artists is not None else lake.read("artists", dt),
                         top_tracks if top_tracks is not None else lake.read("top_tracks", dt),
                         lake.read("related_artists", dt), aliases, mart.settings.tracks_per_artist)
    return mart.publish(frames, dt, parameters=parameters, force=force,
                        artists_with_vector=artists_with_vector, k=k)

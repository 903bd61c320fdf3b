"""Publishing one lake snapshot: read its tables, shape them for the mart, publish."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame

from jobs.common.lake import Lake
from jobs.publish.checks import PublishRefused
from jobs.publish.frames import mart_frames
from jobs.publish.mart import Mart, PublishReport


def publish_snapshot(
    mart: Mart,
    lake: Lake,
    dt: str,
    *,
    artists: DataFrame | None = None,
    top_tracks: DataFrame | None = None,
    parameters: Mapping | None = None,
    force: bool = False,
    artists_with_vector: int | None = None,
    k: int | None = None,
) -> PublishReport:
    """Publish the lake snapshot ``dt`` (frames already read may be passed in).

    ``artists_with_vector`` and ``k`` are the checks' expectations (see ``Mart.publish``): without
    ``artists_with_vector``, the artists with a vector are the related set's own artists.
    """
    aliases = (
        lake.read("artist_aliases", dt).select("artist_id", "alias") if dt in lake.snapshots("artist_aliases") else None
    )
    frames = mart_frames(
        artists if artists is not None else lake.read("artists", dt),
        top_tracks if top_tracks is not None else lake.read("top_tracks", dt),
        lake.read("related_artists", dt),
        aliases,
        mart.settings.tracks_per_artist,
    )
    return mart.publish(frames, dt, parameters=parameters, force=force, artists_with_vector=artists_with_vector, k=k)


def publish_computed(mart: Mart, lake: Lake, dt: str, *, k: int | None = None, **options) -> PublishReport:
    """``publish_snapshot`` of the related artists of ``dt`` the similarity job just computed: a drop-guard
    refusal names the cheaper command that publishes them without computing them again (``republish_command``)."""
    try:
        return publish_snapshot(mart, lake, dt, k=k, **options)
    except PublishRefused as exc:
        raise PublishRefused(
            f"{exc}; the related artists of dt={dt} are saved in the lake, so "
            f"'{republish_command(dt, k)}' (same --config, "
            f"--lake and --mart) publishes them without recomputing"
        ) from None


def republish_command(dt: str, k: int | None = None) -> str:
    """The command line that publishes the lake's related artists of ``dt`` without recomputing them,
    with ``--set similarity.k=<k>`` when ``k`` is given (its checks take k from the config, which need
    not be what the similarity job ran with)."""
    same_k = "" if k is None else f" --set similarity.k={int(k)}"
    return f"python jobs/publish_mart.py publish --dt {dt}{same_k} --force"

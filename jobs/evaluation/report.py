"""The evaluation as a self-contained HTML page (plots embedded as PNG) and a JSON file of every figure."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

TABLE_COLUMNS = (
    ("setting", "setting"),
    ("genre_precision", "precision@k"),
    ("random_precision", "random"),
    ("genre_popularity_precision", "genre-popularity"),
    ("coverage", "coverage"),
    ("in_degree_max", "in-degree max"),
    ("in_degree_p99", "p99"),
    ("in_degree_skew", "skew"),
    ("median_distance", "median distance"),
    ("popularity_gap", "popularity gap"),
    ("co_credited", "co-credited"),
    ("imputed", "imputed"),
)


def comparison_rows(results: Sequence[Mapping]) -> list[dict]:
    """One flat row per evaluated setting, for the table (and the console)."""
    rows = []
    for r in results:
        f = r["figures"]
        rows.append(
            {
                "setting": r["label"],
                "genre_precision": f["genre_precision"],
                "random_precision": f["random_precision"],
                "genre_popularity_precision": f["genre_popularity_precision"],
                "coverage": f["coverage"],
                "in_degree_max": f["in_degree_max"],
                "in_degree_p99": f["in_degree_p99"],
                "in_degree_skew": f["in_degree_skew"],
                "median_distance": f["distances"].get("median"),
                "popularity_gap": f["popularity_gap"]["mean"],
                "co_credited": (f.get("co_credited") or {}).get("share"),
                "imputed": ", ".join(f"{k} {v}" for k, v in (r.get("imputed") or {}).items()) or "-",
            }
        )
    return rows


def format_cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def text_table(rows: Sequence[Mapping]) -> str:
    return _aligned(
        [title for _, title in TABLE_COLUMNS], [[format_cell(row[key]) for key, _ in TABLE_COLUMNS] for row in rows]
    )


def _aligned(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    widths = [max(len(x) for x in column) for column in zip(header, *body)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)) for line in [header, *body])


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# Labels are data (genre names, setting labels, titles): drawn as typed. Matplotlib would read a text
# between two "$" as mathtext (a genre "$\foo$" fails the whole report, "$$" too) and, with usetex, all
# of it as TeX; both are off for every text of the report's figures, tick labels included (those are made
# when a figure is drawn, so the figures are drawn and saved under these settings as well).
PLAIN_TEXT = {"text.parse_math": False, "text.usetex": False}


def plots(results: Sequence[Mapping], projections: Sequence[Mapping | None] | None = None) -> dict[str, str]:
    """Base64 PNGs of :func:`figures`."""
    import matplotlib

    with matplotlib.rc_context(PLAIN_TEXT):
        return {name: _png(figure) for name, figure in figures(results, projections).items()}


def figures(results: Sequence[Mapping], projections: Sequence[Mapping | None] | None = None) -> dict:
    """The figures, drawn, each with a column per compared setting in ``results`` (side by side, each titled
    with its setting's label): distances, in-degrees, per-genre precision, and the 2-D map when any of
    ``projections`` (one per setting, in the same order; None for a setting without one) is given.

    Every text on them (titles, tick labels, legends) shows as typed: with :data:`PLAIN_TEXT`, and
    the map's legend given its labels, so that a genre starting with "_" is not left out of it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    projections = list(projections) if projections is not None else [None] * len(results)
    if len(projections) != len(results):
        raise ValueError(f"{len(projections)} maps for {len(results)} settings: one per setting (None for none)")
    with plt.rc_context(PLAIN_TEXT):
        out = _figures(results, projections)
        for figure in out.values():
            figure.canvas.draw()
    return out


def _figures(results: Sequence[Mapping], projections: Sequence[Mapping | None]) -> dict:
    out = {}
    fig, axes = _columns(len(results), 6, 3.2, "Distance to related artists")
    for ax, result in zip(axes, results):
        _distances(ax, result)
    out["distances"] = fig
    fig, axes = _columns(len(results), 6, 3.2, "How often an artist is recommended (in-degree)")
    for ax, result in zip(axes, results):
        _in_degree(ax, result)
    out["in_degree"] = fig
    rows = max(len(result["figures"]["per_genre"]) for result in results)
    fig, axes = _columns(
        len(results), 6, 0.3 * max(4, rows) + 1, f"Precision@{results[0]['figures']['k']} per genre, artists with it"
    )
    for ax, result in zip(axes, results):
        _per_genre(ax, result)
    out["per_genre"] = fig
    if any(projections):
        fig, axes = _columns(len(results), 6.5, 5, "Artists on the first two principal components")
        for ax, result, projection in zip(axes, results, projections):
            _genre_map(ax, result["label"], projection)
        out["map"] = fig
    return out


def _columns(n: int, width: float, height: float, title: str):
    """A figure titled ``title`` of ``n`` plots side by side, each to be titled with its setting: ``(figure, axes)``."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False, layout="constrained")
    fig.suptitle(title)
    return fig, list(axes[0])


def _distances(ax, result: Mapping) -> None:
    d = result["figures"]["distances"]
    if d.get("pairs"):
        edges = np.array(d["histogram_edges"])
        ax.bar(edges[:-1], d["histogram"], width=np.diff(edges), align="edge", color="#4c72b0")
    ax.set(title=result["label"], xlabel="distance", ylabel="pairs")


def _in_degree(ax, result: Mapping) -> None:
    degrees = {int(k): v for k, v in result["figures"]["in_degree_histogram"].items()}
    ax.bar(list(degrees), list(degrees.values()), color="#dd8452")
    ax.set_yscale("log")
    ax.set(title=result["label"], xlabel="times recommended", ylabel="artists")


def _per_genre(ax, result: Mapping) -> None:
    f = result["figures"]
    genres = list(reversed(f["per_genre"]))
    ax.barh([f"{g['genre']} ({g['artists']})" for g in genres], [g["precision"] for g in genres], color="#55a868")
    ax.axvline(f["random_precision"], color="grey", linestyle="--", label="random")
    ax.set(title=result["label"], xlim=(0, 1))
    ax.legend(loc="lower right")


def _genre_map(ax, label: str, projection: Mapping | None) -> None:
    """The artists of one setting on its first two principal components, coloured by genre; the title says
    whose vectors they are when the projection says (``drawn``: published's are the config's)."""
    if not projection:
        ax.set(title=f"{label}: fewer than two artists", xticks=[], yticks=[])
        return
    import matplotlib.pyplot as plt

    xy, labels = np.asarray(projection["xy"]), np.asarray(projection["genre"])
    # The rest first, in greys, under the top genres, each in a colour of its own (tab10 has ten).
    background = {"no genre": "#dddddd", "other": "#aaaaaa"}
    genres = [name for name in projection["legend"] if name not in background]
    names = [n for n in background if n in projection["legend"]] + genres
    handles = []
    for name in names:
        mask = labels == name
        colour = background.get(name) or plt.get_cmap("tab10")(genres.index(name) % 10)
        handles.append(ax.scatter(xy[mask, 0], xy[mask, 1], s=4, alpha=0.6, color=colour))
    ax.set(title=f"{label} ({projection['drawn']})" if projection.get("drawn") else label, xticks=[], yticks=[])
    ax.legend(handles, names, markerscale=3, fontsize=7, loc="best")


def pca_projection(points: np.ndarray, genres: Sequence[str | None], top: int = 10) -> dict:
    """2-D coordinates (first two principal components) and a genre label per point (top genres, else 'other')."""
    centred = points - points.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T if vt.shape[0] >= 2 else np.column_stack([centred[:, 0], np.zeros(len(centred))])
    names, counts = np.unique([g for g in genres if g], return_counts=True)
    legend = [str(n) for n in names[np.argsort(-counts, kind="stable")][:top]]
    labels = [g if g in legend else ("other" if g else "no genre") for g in genres]
    return {"xy": xy.tolist(), "genre": labels, "legend": legend + [x for x in ("other", "no genre") if x in labels]}


def rows_table(rows: Sequence[Mapping]) -> str:
    """Rows of the same keys as aligned text columns."""
    if not rows:
        return ""
    header = [str(key) for key in rows[0]]
    return _aligned(header, [[format_cell(row[key]) for key in rows[0]] for row in rows])


def rows_html(rows: Sequence[Mapping]) -> str:
    """Rows of the same keys as an HTML table."""
    if not rows:
        return ""
    esc = html.escape
    head = "".join(f"<th>{esc(str(key))}</th>" for key in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{esc(format_cell(v))}</td>" for v in row.values()) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def listening_html(listening: Mapping | None) -> str:
    """The held-out-listener section (jobs/evaluation/held_out.py), empty without listening data."""
    if not listening:
        return ""
    from jobs.evaluation.held_out import held_out_rows

    fit = listening.get("fit")
    fitted = (
        (
            f"<p>Blend weight fitted on half of the artists: <b>{fit['listeners_weight']:g}</b> (precision@3 "
            f"{fit['fitted']:.3f} there; {fit['held_out']:.3f} on the other half, sound alone "
            f"{fit['sound_held_out']:.3f})</p>"
        )
        if fit
        else ""
    )
    return (
        f"<h2>Held-out listeners (blend weight {listening['weight']:g})</h2><p>Contexts split by a seeded hash "
        f"(seed {listening['seed']}): {listening['build_contexts']} build the listening signal, "
        f"{listening['held_out_contexts']} give each artist's truth (its 10 most co-listened).</p>"
        + rows_html(held_out_rows(listening))
        + fitted
        + "<h3>precision@3 by build contexts per artist</h3>"
        + rows_html(listening["by_contexts"])
        + "<h3>precision@3 by top tracks per artist</h3>"
        + rows_html(listening["by_tracks"])
    )


def write_report(
    out_dir: str | Path,
    title: str,
    results: Sequence[Mapping],
    projections: Sequence[Mapping | None] | None,
    fit: Mapping | None,
    context: Mapping,
    listening: Mapping | None = None,
) -> dict[str, Path]:
    """``report.html`` and ``report.json`` in ``out_dir`` (with the held-out-listener figures when given);
    returns their paths. ``projections``: each setting's 2-D map (:func:`pca_projection`), in the order of
    ``results``, None for a setting without one."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = comparison_rows(results)
    images = plots(results, projections)
    document = {
        "title": title,
        "context": dict(context),
        "comparison": rows,
        "settings": [dict(r) for r in results],
        "fit": dict(fit) if fit else None,
        "listening": dict(listening) if listening else None,
    }
    json_path = out / "report.json"
    json_path.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
    esc = html.escape
    table = "".join(f"<th>{esc(t)}</th>" for _, t in TABLE_COLUMNS)
    table_rows = "".join(
        "<tr>" + "".join(f"<td>{esc(format_cell(r[key]))}</td>" for key, _ in TABLE_COLUMNS) + "</tr>" for r in rows
    )
    pictures = "".join(
        f'<figure><img alt="{esc(name)}" src="data:image/png;base64,{data}"></figure>' for name, data in images.items()
    )
    fit_html = ""
    if fit:
        weights = ", ".join(f"{k} {v:g}" for k, v in fit["weights"].items())
        fit_html = (
            f"<h2>Fitted weights (seed {fit['seed']})</h2><p>{esc(weights)}</p><table><tr><th>part</th>"
            f"<th>artists</th><th>all weights 1</th><th>fitted weights</th></tr>"
            f"<tr><td>fitted on</td><td>{fit['fitted_artists']}</td><td>{fit['base_fitted']:.3f}</td>"
            f"<td>{fit['fitted']:.3f}</td></tr><tr><td>held out (never searched on)</td>"
            f"<td>{fit['held_out_artists']}</td><td>{fit['base_held_out']:.3f}</td>"
            f"<td><b>{fit['held_out']:.3f}</b></td></tr></table>"
        )
    context_html = "".join(f"<li>{esc(str(k))}: {esc(str(v))}</li>" for k, v in context.items())
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}figure{{margin:8px 0;overflow-x:auto}}</style>
</head><body><h1>{esc(title)}</h1><ul>{context_html}</ul>
<h2>Settings compared</h2><table><tr>{table}</tr>{table_rows}</table>{fit_html}{listening_html(listening)}
<h2>Plots</h2>{pictures}</body></html>"""
    html_path = out / "report.html"
    html_path.write_text(page, encoding="utf-8")
    return {"html": html_path, "json": json_path}

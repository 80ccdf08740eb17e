"""A run's report: one self-contained HTML file a planner can send, in Finnish, Swedish or English.

:func:`report_html` builds the page: the title and description, a banner when
layers are synthetic, the headline (access to the nearest full point and to
any point, beside the baseline), the interactive map (embedded with
``<iframe srcdoc>``, so the file needs nothing beside it), the
scenario-versus-baseline table, the chosen service points, the data-quality
notes, the assumptions with their sources and, when a sweep ran, its
trade-off chart. :func:`write_report` writes it atomically, and
:func:`result_report` builds it from a
:class:`~optimizer.scenario.ScenarioResult`.

Every label comes from the message catalogue (:mod:`optimizer.i18n`). The page
is written by plain string building, never by a template engine, and every
user string (region, scenario, site and municipality names, descriptions,
cell ids, sources) is HTML-escaped exactly once, so it shows literally.
"""

from __future__ import annotations

import base64
import html
import logging
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer._io import write_text_atomic
from optimizer.errors import DataError
from optimizer.i18n import Lang, check_lang, format_number, format_share, message
from optimizer.maps._figures import (
    OPEN_ROLES,
    AccessFigures,
    NetworkFigures,
    QualityFigures,
    headline_rows,
    minutes_text,
    quality_lines,
    site_status,
    synthetic_note,
)

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["Assumption", "report_html", "result_report", "write_report"]

logger = logging.getLogger(__name__)

#: An assumption: its name, and where its value comes from (``None``: no source).
Assumption = tuple[str, str | None]

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 0 16px;
  color: #222; }
h1 { font-size: 26px; margin-bottom: 0; }
h2 { font-size: 19px; margin-top: 28px; border-bottom: 1px solid #ccc; }
.description { color: #444; margin-top: 4px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 3px 10px; text-align: left; border-bottom: 1px solid #eee; vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.group th { padding-top: 10px; font-weight: bold; }
.banner { padding: 8px 12px; border-radius: 4px; margin: 12px 0; }
.banner-synthetic { background: #fff3cd; border: 1px solid #d39e00; }
.banner-quality { background: #f8d7da; border: 1px solid #b21f2d; }
.banner-good { background: #e8f5e9; border: 1px solid #2e7d32; }
iframe.map { width: 100%; height: 640px; border: 1px solid #ccc; }
img.chart { max-width: 100%; }
""".strip()


def _e(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], *, numeric_from: int = 1) -> str:
    head = "".join(
        f"<th{' class=num' if k >= numeric_from else ''}>{_e(h)}</th>" for k, h in enumerate(header)
    )
    body = []
    for row in rows:
        cells = "".join(
            f"<th>{_e(v)}</th>"
            if k == 0
            else f"<td{' class=num' if k >= numeric_from else ''}>{_e(v)}</td>"
            for k, v in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _headline(estimate: NetworkFigures, baseline: NetworkFigures | None, lang: Lang) -> str:
    networks = [estimate] if baseline is None else [estimate, baseline]
    header = ["", message("scenario", lang)]
    if baseline is not None:
        header.append(message("baseline", lang))
    rows = []
    for row in headline_rows(networks, lang):
        if row.heading:
            rows.append(f'<tr class="group"><th colspan="{len(header)}">{_e(row.label)}</th></tr>')
        else:
            values = "".join(f'<td class="num">{_e(v)}</td>' for v in row.values)
            rows.append(f"<tr><th>{_e(row.label)}</th>{values}</tr>")
    head = "".join(f'<th class="num">{_e(h)}</th>' if h else "<th></th>" for h in header)
    body = "".join(rows)
    return f'<table class="headline"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _difference(a: float, b: float) -> float:
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        return math.nan
    if math.isinf(a) or math.isinf(b):
        return math.nan if a == b else a - b
    return a - b


def comparison_rows(
    estimate: NetworkFigures, baseline: NetworkFigures, lang: Lang
) -> list[tuple[str, str, str, str]]:
    """Rows of the scenario-versus-baseline table: label, scenario, baseline, difference.

    Parameters
    ----------
    estimate, baseline
        The two networks' figures.
    lang
        Language of the labels and numbers.
    """
    rows: list[tuple[str, str, str, str]] = []
    for target_key, attr in (("head_full", "to_full"), ("head_any", "to_any")):
        target = message(target_key, lang)
        now: AccessFigures = getattr(estimate, attr)
        before: AccessFigures = getattr(baseline, attr)
        for stat, field in (
            ("stat_mean", "mean_minutes"),
            ("stat_median", "p50_minutes"),
            ("stat_p90", "p90_minutes"),
            ("stat_p99", "p99_minutes"),
        ):
            a, b = getattr(now, field), getattr(before, field)
            rows.append(
                (
                    message("row_minutes", lang, target=target, stat=message(stat, lang)),
                    minutes_text(a, lang),
                    minutes_text(b, lang),
                    format_number(_difference(a, b), lang, digits=1, signed=True),
                )
            )
        for minutes in (30, 60, 90):
            a, b = (
                getattr(now, f"share_within_{minutes}"),
                getattr(before, f"share_within_{minutes}"),
            )
            rows.append(
                (
                    message("row_within", lang, target=target, minutes=minutes),
                    format_share(a, lang),
                    format_share(b, lang),
                    format_share(_difference(a, b), lang, signed=True),
                )
            )
    for key, group, field in (
        ("row_person_km", "travel", "person_km"),
        ("row_vehicle_km", "travel", "vehicle_km"),
        ("row_t_co2", "travel", "t_co2"),
        ("row_site_costs", "costs", "sites_eur"),
        ("row_travel_time_cost", "costs", "travel_time_eur"),
        ("row_co2_cost", "costs", "co2_eur"),
        ("row_total_cost", "costs", "total_eur"),
    ):
        a = getattr(getattr(estimate, group), field)
        b = getattr(getattr(baseline, group), field)
        rows.append(
            (
                message(key, lang),
                format_number(a, lang),
                format_number(b, lang),
                format_number(_difference(a, b), lang, signed=True),
            )
        )
    return rows


def site_rows(sites: gpd.GeoDataFrame, lang: Lang) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the chosen sites' table, full points first, then by name.

    ``sites`` needs ``name`` and ``role``; ``baseline_role``,
    ``municipality``, ``visits``, ``residents_served`` and ``mean_minutes``
    add columns when present.
    """
    for column in ("name", "role"):
        if column not in sites.columns:
            raise DataError(f"sites lack the column {column!r} for the report")
    chosen = sites[sites["role"].isin(OPEN_ROLES)]
    order = sorted(
        range(len(chosen)),
        key=lambda k: (OPEN_ROLES.index(chosen["role"].iloc[k]), str(chosen["name"].iloc[k])),
    )
    header = [message("col_site", lang), message("popup_tier", lang)]
    has_base = "baseline_role" in chosen.columns
    if has_base:
        header.append(message("popup_status", lang))
    has_muni = "municipality" in chosen.columns
    if has_muni:
        header.append(message("popup_municipality", lang))
    numbers = [
        (c, key, d)
        for c, key, d in (
            ("visits", "popup_visits", 0),
            ("residents_served", "popup_residents_served", 0),
            ("mean_minutes", "popup_mean_minutes", 1),
        )
        if c in chosen.columns
    ]
    header += [message(key, lang) for _, key, _ in numbers]
    rows = []
    for k in order:
        row = chosen.iloc[k]
        out = [str(row["name"]), message(f"tier_{row['role']}", lang)]
        if has_base:
            status = site_status(str(row["role"]), str(row["baseline_role"]))
            out.append(message(f"status_{status}", lang))
        if has_muni:
            out.append("" if _missing(row["municipality"]) else str(row["municipality"]))
        for column, _, digits in numbers:
            value = row[column]
            if column == "mean_minutes":
                out.append(minutes_text(value, lang, digits=digits))
            else:
                out.append(format_number(value, lang, digits=digits))
        rows.append(out)
    return header, rows


def _staffing(staffing: Any, baseline: Any, lang: Lang) -> str:
    """Build the staffing section: FTE by agency at each full point and in its remote pool."""
    pool = message("remote_pool", lang)
    points = list(dict.fromkeys(r.site_name for r in staffing.rows if r.site_id != "remote pool"))
    by_agency: dict[str, dict[str, float | None]] = {}
    for row in staffing.rows:
        where = pool if row.site_id == "remote pool" else row.site_name
        by_agency.setdefault(row.agency_name, {})[where] = (
            row.fte if (row.desk or row.site_id == "remote pool") else None
        )
    rows = []
    for agency, cells in by_agency.items():
        values = [cells.get(point) for point in [*points, pool]]
        total = sum(v for v in values if v is not None)
        shown = [format_number(v, lang, digits=1) for v in [*values, total]]
        rows.append([agency, *shown])
    header = [message("col_agency", lang), *points, pool, message("total", lang)]
    notes = message(
        "staffing_summary",
        lang,
        desks=staffing.desks,
        fte=format_number(staffing.fte, lang, digits=1),
        cost=format_number(staffing.total_cost_eur, lang),
    )
    if baseline is not None:
        notes += " " + message(
            "staffing_baseline",
            lang,
            desks=baseline.desks,
            cost=format_number(baseline.total_cost_eur, lang),
        )
    return (
        f'<h2 id="staffing">{_e(message("section_staffing", lang))}</h2>'
        + _table(header, rows)
        + f"<p>{_e(notes)}</p>"
    )


def _missing(value: Any) -> bool:
    try:
        return value is None or (isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


def _map_frame(map_page: str, lang: Lang) -> str:
    return (
        f'<iframe class="map" title="{_e(message("map_frame", lang))}" '
        f'sandbox="allow-scripts allow-popups" srcdoc="{_e(map_page)}"></iframe>'
    )


def report_html(
    *,
    title: str,
    estimate: NetworkFigures,
    sites: gpd.GeoDataFrame,
    baseline: NetworkFigures | None = None,
    map_page: str | None = None,
    description: str | None = None,
    quality: QualityFigures | None = None,
    synthetic_layers: Sequence[str] = (),
    assumptions: Sequence[Assumption | str] = (),
    chart_png: bytes | None = None,
    plans: Sequence[tuple[str, NetworkFigures]] = (),
    staffing: Any = None,
    baseline_staffing: Any = None,
    lang: Lang = "en",
) -> str:
    """Build the report of a run as one self-contained HTML page.

    Parameters
    ----------
    title
        Heading of the report (e.g. ``"<region>: <scenario>"``).
    estimate, baseline
        Figures of the chosen network and of the baseline (see
        :class:`optimizer.maps.NetworkFigures`); without a baseline the
        comparison table is left out.
    sites
        Sites with ``name`` and ``role`` (as for :func:`optimizer.maps.map_solution`);
        those with role ``"full"`` or ``"remote"`` are listed.
    map_page
        The map as a standalone HTML page (:func:`optimizer.maps.map_html`,
        best with ``assets="inline"``), embedded in an ``<iframe srcdoc>``.
    description
        A line under the title (e.g. the scenario's description).
    quality
        Data-quality figures: their notes, with a warning when poor.
    synthetic_layers
        Names of synthetic layers: a banner says so.
    assumptions
        Assumptions with their sources, as ``(name, source)`` pairs or names.
    chart_png
        PNG of the sweep's trade-off chart, if a sweep ran.
    plans
        The planner's own networks as ``(name, figures)``: a column each in the
        comparison table.
    staffing, baseline_staffing
        Agency desks and officials (:class:`optimizer.scenario.staffing.Staffing`)
        of the network and of the baseline: a table of FTE by agency and point.
    lang
        ``"en"``, ``"fi"`` or ``"sv"``.

    Returns
    -------
    str
        The HTML page.
    """
    lang = check_lang(lang)
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)} – {_e(message('report_title', lang))}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f'<h1 class="title">{_e(title)}</h1>',
        f'<p class="subtitle">{_e(message("report_title", lang))}</p>',
    ]
    if description:
        parts.append(f'<p class="description">{_e(description)}</p>')
    note = synthetic_note(synthetic_layers, lang)
    if note is not None:
        parts.append(
            f'<div class="banner banner-synthetic"><strong>{_e(message("synthetic_title", lang))}'
            f"</strong><div>{_e(note)}</div></div>"
        )
    if quality is not None and quality.is_poor:
        parts.append(
            f'<div class="banner banner-quality"><strong>{_e(message("quality_poor", lang))}'
            f"</strong></div>"
        )

    parts.append(f'<h2 id="headline">{_e(message("section_headline", lang))}</h2>')
    parts.append(_headline(estimate, baseline, lang))

    if map_page is not None:
        parts.append(f'<h2 id="map">{_e(message("section_map", lang))}</h2>')
        parts.append(_map_frame(map_page, lang))

    if baseline is not None:
        parts.append(f'<h2 id="comparison">{_e(message("section_comparison", lang))}</h2>')
        header = [
            message("col_figure", lang),
            message("scenario", lang),
            message("baseline", lang),
            message("difference", lang),
        ]
        rows = comparison_rows(estimate, baseline, lang)
        for name, figures in plans:
            header.append(message("plan", lang, name=name))
            column = comparison_rows(figures, baseline, lang)
            rows = [[*row, other[1]] for row, other in zip(rows, column, strict=True)]
        parts.append(_table(header, rows))

    parts.append(f'<h2 id="sites">{_e(message("section_sites", lang))}</h2>')
    header, rows = site_rows(sites, lang)
    if rows:
        parts.append(
            _table(
                header,
                rows,
                numeric_from=len(header)
                - sum(c in sites.columns for c in ("visits", "residents_served", "mean_minutes")),
            )
        )
    else:
        parts.append(f"<p>{_e(message('no_sites', lang))}</p>")

    if staffing is not None:
        parts.append(_staffing(staffing, baseline_staffing, lang))

    if quality is not None:
        parts.append(f'<h2 id="quality">{_e(message("section_quality", lang))}</h2>')
        kind = "quality" if quality.is_poor else "good"
        heading = message("quality_poor" if quality.is_poor else "quality_good", lang)
        lines = "".join(f"<li>{_e(line)}</li>" for line in quality_lines(quality, lang))
        parts.append(
            f'<div class="banner banner-{kind}"><strong>{_e(heading)}</strong>'
            f"<ul>{lines}</ul></div>"
        )

    parts.append(f'<h2 id="assumptions">{_e(message("section_assumptions", lang))}</h2>')
    if assumptions:
        pairs = [(a, None) if isinstance(a, str) else (a[0], a[1]) for a in assumptions]
        rows = [
            [str(name), str(source) if source else message("no_source", lang)]
            for name, source in pairs
        ]
        parts.append(
            _table([message("col_figure", lang), message("col_source", lang)], rows, numeric_from=9)
        )
    else:
        parts.append(f"<p>{_e(message('no_assumptions', lang))}</p>")

    if chart_png is not None:
        uri = "data:image/png;base64," + base64.b64encode(chart_png).decode("ascii")
        parts.append(f'<h2 id="tradeoff">{_e(message("section_tradeoff", lang))}</h2>')
        parts.append(f'<img class="chart" alt="{_e(message("chart_alt", lang))}" src="{uri}">')

    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(path: str | os.PathLike[str], page: str) -> Path:
    """Write a report page to ``path`` atomically (temporary file, then rename).

    Raises
    ------
    OutputError
        If the folder cannot be created or written.
    """
    target = write_text_atomic(path, page)
    logger.info("wrote report %s (%.1f MB)", target, len(page.encode("utf-8")) / 1e6)
    return target


def _cited_figures(scenario: Any) -> list[Assumption]:
    """Return the scenario's figures with their sources, then its assumptions (no source)."""
    cited: list[Assumption] = []
    for key, agency in sorted(getattr(scenario, "agencies", {}).items()):
        source = getattr(agency, "source", None)
        if source:
            cited.append((f"agencies.{key}", str(source)))
    for section in ("network", "travel"):
        for name, source in sorted(
            getattr(getattr(scenario, section, None), "sources", {}).items()
        ):
            cited.append((f"{section}.{name}", str(source)))
    named = {name for name, _ in cited}
    return cited + [(str(a), None) for a in scenario.assumptions() if str(a) not in named]


def result_report(
    result: Any,
    *,
    map_page: str | None = None,
    chart_png: bytes | None = None,
    lang: Lang = "en",
) -> str:
    """Build the report of a :class:`~optimizer.scenario.ScenarioResult`.

    Parameters
    ----------
    result
        The run: its region, scenario, estimate, baseline, quality and sites.
    map_page
        The run's map page to embed (see :func:`report_html`).
    chart_png
        The sweep's chart, if one ran.
    lang
        ``"en"``, ``"fi"`` or ``"sv"``.
    """
    region, scenario = result.region, result.scenario
    synthetic = sorted(k for k, v in region.meta.synthetic.items() if v)
    return report_html(
        title=f"{region.name}: {scenario.name}",
        description=scenario.description,
        estimate=result.estimate,
        baseline=result.baseline,
        sites=result.sites,
        map_page=map_page,
        quality=result.quality,
        synthetic_layers=synthetic,
        assumptions=_cited_figures(scenario),
        chart_png=chart_png,
        plans=[(plan.name, plan.estimate) for plan in result.plans],
        staffing=result.staffing,
        baseline_staffing=result.baseline_staffing,
        lang=lang,
    )

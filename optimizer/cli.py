"""The ``optimizer`` command line (typer + rich).

Only the CLI configures logging and shows progress bars; the library stays quiet.
Every :class:`~optimizer.errors.OptimizerError` is printed as one clear line and
exits with status 2 (status 1 is reserved for "some regions of a batch failed").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from optimizer.errors import OptimizerError
from optimizer.settings import get_settings

__all__ = ["app"]

app = typer.Typer(
    name="optimizer",
    help="Plan joint service points and remote-service points for a Finnish region.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output.")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
) -> None:
    level = (
        logging.ERROR
        if quiet
        else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
        force=True,
    )


def _fail(exc: OptimizerError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code=2)


@app.command("regions")
def regions_command(
    bundles: Annotated[
        list[Path] | None,
        typer.Option("--bundles", help="Extra folder of bundles to search first (repeatable)."),
    ] = None,
) -> None:
    """List the regions: local bundles and the 18 mainland regions to fetch."""
    from optimizer.region import list_regions

    try:
        infos = list_regions(bundles=bundles or (), settings=get_settings())
    except OptimizerError as exc:
        raise _fail(exc) from exc
    table = Table(title="Regions")
    for col in ("slug", "name", "code", "status", "data"):
        table.add_column(col)
    for info in infos:
        data = "synthetic" if info.synthetic else ("real" if info.path else "-")
        table.add_row(info.slug, info.name, info.code, info.status, data)
    console.print(table)


@app.command("info")
def info_command(
    region: Annotated[str, typer.Argument(help="Region slug, name, code or bundle folder.")],
) -> None:
    """Show a region's population, grid cells, road graph and sites."""
    from optimizer.population import cell_size
    from optimizer.region import load_region

    try:
        reg = load_region(region, settings=get_settings())
    except OptimizerError as exc:
        raise _fail(exc) from exc
    s = reg.summary()
    edge = cell_size(reg.population)
    size = f"{edge / 1000:g} km" if edge >= 1000 else f"{edge:g} m"
    table = Table(title=f"{reg.name} ({reg.code})", show_header=False)
    table.add_column("field")
    table.add_column("value", justify="right")
    table.add_row("population", f"{s['population']:,}")
    table.add_row(f"grid cells ({size})", f"{s['cells']:,}")
    table.add_row("municipalities", str(s["municipalities"]))
    table.add_row("road nodes", f"{s['road_nodes']:,}")
    table.add_row("road edges", f"{s['road_edges']:,}")
    table.add_row("candidate sites", str(s["sites"]))
    table.add_row("required sites", str(s["required_sites"]))
    table.add_row("year", str(s["year"]))
    table.add_row("CRS", s["crs"])
    table.add_row("synthetic layers", ", ".join(s["synthetic_layers"]) or "none")
    table.add_row("bundle", s["path"] or "-")
    console.print(table)
    if s["synthetic_layers"]:
        console.print(
            f"[yellow]note:[/] the {', '.join(s['synthetic_layers'])} layer(s) of this bundle "
            "are synthetic (see region.toml)."
        )
    sites = Table(title="Candidate sites")
    for col in ("site_id", "name", "municipality", "kind", "required"):
        sites.add_column(col)
    for sid, row in reg.sites.iterrows():
        sites.add_row(
            str(sid),
            row["name"],
            row["municipality"],
            row["kind"],
            "yes" if row["required"] else "",
        )
    console.print(sites)


@app.command("fetch")
def fetch_command(
    region: Annotated[str, typer.Argument(help="Mainland region: name, slug or code.")],
    out: Annotated[Path | None, typer.Option(help="Bundle folder (default: cache).")] = None,
    year: Annotated[int, typer.Option(help="Population grid year.")] = 2022,
    roads_file: Annotated[
        Path | None,
        typer.Option(help="Read roads from a local .osm.pbf/.graphml/.gpkg instead of Overpass."),
    ] = None,
    sites: Annotated[
        Path | None,
        typer.Option(
            "--sites", help="Extra candidate sites (any CRS), added to the municipal centres."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing bundle.")] = False,
) -> None:
    """Build a real bundle from Statistics Finland WFS and OpenStreetMap (online).

    Candidate sites sit at the real central localities of the region's
    municipalities (National Land Survey, shipped with the package).
    """
    from rich.progress import Progress

    from optimizer.sources import fetch_region, find_region

    settings = get_settings()
    try:
        reg = find_region(region)
        target = out or settings.cache_dir / "regions" / reg.slug
        with Progress(console=err_console, transient=True) as progress:
            path = fetch_region(
                reg,
                out_dir=target,
                year=year,
                progress=progress,
                settings=settings,
                roads_file=roads_file,
                sites_file=sites,
                overwrite=overwrite,
            )
    except OptimizerError as exc:
        raise _fail(exc) from exc
    console.print(f"wrote bundle [bold]{path}[/]")


@app.command("bundle")
def bundle_command(
    out: Annotated[Path, typer.Argument(help="Bundle folder to write.")],
    from_files: Annotated[
        bool, typer.Option("--from-files", help="Build from your own files (required).")
    ] = False,
    name: Annotated[str, typer.Option(help="Region name.")] = "My region",
    code: Annotated[str, typer.Option(help="Region code.")] = "00",
    year: Annotated[int, typer.Option(help="Data year.")] = 2022,
    population: Annotated[Path, typer.Option(help="Grid cells file (gpkg, geojson, shp).")] = Path(
        "population.gpkg"
    ),
    roads: Annotated[Path, typer.Option(help="Roads: .graphml, .gpkg or .osm.pbf.")] = Path(
        "roads.graphml"
    ),
    sites: Annotated[Path, typer.Option(help="Candidate sites file.")] = Path("sites.gpkg"),
    boundary: Annotated[Path | None, typer.Option(help="Optional region outline.")] = None,
    slug: Annotated[
        str | None, typer.Option(help="Short name of the bundle (default: the folder name).")
    ] = None,
    population_column: Annotated[
        str | None, typer.Option(help="Residents column of the grid, e.g. ASUKKAITA.")
    ] = None,
    id_column: Annotated[str | None, typer.Option(help="Cell id column, e.g. INDEX.")] = None,
    municipality_column: Annotated[
        str | None, typer.Option(help="Municipality code column of the grid.")
    ] = None,
    age_band: Annotated[
        list[str] | None,
        typer.Option(
            "--age-band", help="An age band of the grid, COLUMN=FROM-TO or COLUMN=FROM+ (repeat)."
        ),
    ] = None,
    hsy_ages: Annotated[
        bool, typer.Option("--hsy-ages", help="The grid has HSY's age bands IKA0_9 ... IKA_YLI80.")
    ] = False,
    suppression_code: Annotated[
        list[float] | None,
        typer.Option(help="Code of a hidden count in the age fields (repeat; default -1 and 99)."),
    ] = None,
    site_name_column: Annotated[
        str | None, typer.Option(help="Name column of the sites file, e.g. address.")
    ] = None,
    synthetic: Annotated[
        list[str] | None,
        typer.Option(help="Mark a layer synthetic: population, roads, sites, boundary (repeat)."),
    ] = None,
    clip_to_boundary: Annotated[
        bool, typer.Option(help="Keep only the cells inside --boundary.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing bundle.")] = False,
) -> None:
    """Build a bundle from your own grid, roads and sites files (works offline).

    Any CRS is reprojected (and logged); map your columns with the --*-column
    options and your age bands with --age-band or --hsy-ages.
    """
    from optimizer._ages import SUPPRESSION_CODES
    from optimizer.population import HSY_AGE_BANDS
    from optimizer.sources import bundle_from_files

    if not from_files:
        raise typer.BadParameter(
            "pass --from-files with --population, --roads and --sites; "
            "use `optimizer fetch` to build a bundle from online sources"
        )
    columns = {
        key: value
        for key, value in (
            ("population", population_column),
            ("cell_id", id_column),
            ("municipality", municipality_column),
        )
        if value
    }
    bands: list[Any] = list(HSY_AGE_BANDS) if hsy_ages else []
    bands += list(age_band or [])
    try:
        path = bundle_from_files(
            out_dir=out,
            name=name,
            code=code,
            year=year,
            slug=slug,
            population_file=population,
            roads_file=roads,
            sites_file=sites,
            boundary_file=boundary,
            population_columns=columns or None,
            age_bands=bands or None,
            suppression_codes=tuple(suppression_code) if suppression_code else SUPPRESSION_CODES,
            site_columns={"name": site_name_column} if site_name_column else None,
            clip_to_boundary=clip_to_boundary,
            synthetic=synthetic or None,
            overwrite=overwrite,
            settings=get_settings(),
        )
    except OptimizerError as exc:
        raise _fail(exc) from exc
    console.print(f"wrote bundle [bold]{path}[/]")


@app.command("synth")
def synth_command(
    out: Annotated[Path, typer.Option(help="Folder to write the bundles into.")],
    regions: Annotated[
        str, typer.Option(help="'all' or comma-separated maakunta codes, e.g. 12,19.")
    ] = "all",
    year: Annotated[int, typer.Option(help="Population year (THL Sotkanet, 2000-2022).")] = 2022,
    overwrite: Annotated[bool, typer.Option(help="Replace existing bundles.")] = False,
    finland_dir: Annotated[
        Path | None,
        typer.Option(hidden=True, help="Ignored: the national tables ship with the package."),
    ] = None,
) -> None:
    """Build SYNTHETIC bundles for mainland regions (the offline national test set).

    Municipalities, populations and central localities are the real national
    tables shipped with the package; the grid and roads are generated.
    """
    from optimizer.sources.synthetic import write_national_bundles

    codes = None if regions == "all" else [c.strip() for c in regions.split(",") if c.strip()]
    if finland_dir is not None:
        err_console.print(
            "[yellow]note:[/] --finland-dir is ignored (tables ship with the package)"
        )
    try:
        paths = write_national_bundles(out_root=out, codes=codes, year=year, overwrite=overwrite)
    except OptimizerError as exc:
        raise _fail(exc) from exc
    for path in paths:
        console.print(f"{path} [yellow](synthetic grid and roads)[/]")


def _estimate_rows(result: Any) -> list[tuple[str, str, str, str]]:
    """Rows of the scenario / baseline / difference table."""
    e, b, d = result.estimate, result.baseline, result.difference

    def row(label: str, get: Callable[[Any], float], fmt: str) -> tuple[str, str, str, str]:
        values = [get(x) for x in (e, b, d)]
        diff = f"{values[2]:+{fmt}}" if values[2] is not None else "-"
        return (label, f"{values[0]:{fmt}}", f"{values[1]:{fmt}}", diff)

    rows = [
        row("full points", lambda x: x.n_full, "d"),
        row("remote points", lambda x: x.n_remote, "d"),
    ]
    for target, label in (("to_full", "full point"), ("to_any", "any point")):
        for stat, name in (
            ("mean_minutes", "mean"),
            ("p50_minutes", "median"),
            ("p90_minutes", "90th pct"),
            ("p99_minutes", "99th pct"),
        ):
            rows.append(
                row(
                    f"{name} min to nearest {label}",
                    lambda x, t=target, s=stat: getattr(getattr(x, t), s),
                    ".1f",
                )
            )
    for minutes in (30, 60, 90):
        rows.append(
            row(
                f"residents within {minutes} min of any point (%)",
                lambda x, k=minutes: 100 * getattr(x.to_any, f"share_within_{k}"),
                ".1f",
            )
        )
    rows += [
        row("person-km per year", lambda x: x.travel.person_km, ",.0f"),
        row("vehicle-km per year", lambda x: x.travel.vehicle_km, ",.0f"),
        row("t CO2 per year", lambda x: x.travel.t_co2, ",.1f"),
        row("site costs (EUR/yr)", lambda x: x.costs.sites_eur, ",.0f"),
        row("travel time cost (EUR/yr)", lambda x: x.costs.travel_time_eur, ",.0f"),
        row("CO2 cost (EUR/yr)", lambda x: x.costs.co2_eur, ",.0f"),
        row("total annual cost (EUR)", lambda x: x.costs.total_eur, ",.0f"),
    ]
    return rows


def _print_result(result: Any, paths: Any) -> None:
    summary = result.summary
    table = Table(title=f"{summary['region']['name']}: scenario {summary['scenario']['name']!r}")
    for col, justify in (
        ("", "left"),
        ("scenario", "right"),
        ("baseline", "right"),
        ("difference", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in _estimate_rows(result):
        table.add_row(*r)
    console.print(table)
    sites = Table(title="Chosen service points")
    for col in ("site", "tier", "visits/yr", "residents served", "mean min"):
        sites.add_column(col, justify="left" if col in ("site", "tier") else "right")
    for load in result.estimate.sites:
        sites.add_row(
            load.name,
            load.tier,
            f"{load.visits:,.0f}",
            f"{load.residents_served:,.0f}",
            f"{load.mean_minutes:.1f}",
        )
    console.print(sites)
    sol = summary["solution"]
    gap = sol.get("gap")
    console.print(
        f"solver [bold]{sol['solver']}[/]: {sol['status']}, gap "
        f"{'-' if gap is None else f'{100 * gap:.3g} %'}, {sol['seconds']:.1f} s"
    )
    if summary["region"]["synthetic_layers"]:
        console.print(
            "[yellow]note:[/] this region's "
            f"{', '.join(summary['region']['synthetic_layers'])} layer(s) are synthetic."
        )
    if summary.get("assumptions"):
        console.print(
            f"[yellow]note:[/] {len(summary['assumptions'])} figure(s) of the scenario are "
            "assumptions (listed in summary.json); set your own."
        )
    console.print(f"summary  {paths.summary}\nresults  {paths.results}\nmap      {paths.map}")


@app.command("run")
def run_command(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario TOML (default: the demo scenario).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: results/).")] = None,
) -> None:
    """Choose full and remote service points for a scenario and report the estimates."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from optimizer.scenario import load_scenario, run_scenario, write_outputs

    settings = get_settings()
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task("reading scenario", total=None)

            def step(name: str) -> None:
                bar.update(task, description=name)

            scen = load_scenario(scenario, settings=settings)
            result = run_scenario(scen, settings=settings, progress=step)
            step("writing outputs")
            paths = write_outputs(result, out, settings=settings)
    except OptimizerError as exc:
        raise _fail(exc) from exc
    _print_result(result, paths)


@app.command("sweep")
def sweep_command(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario TOML (default: the demo scenario).")
    ] = None,
    full: Annotated[str, typer.Option(help="Full points, e.g. 1..3 or 1,2,4.")] = "1..3",
    remote: Annotated[str, typer.Option(help="Remote points, e.g. 0..8.")] = "0..8",
    out: Annotated[Path | None, typer.Option(help="Output folder (default: results/).")] = None,
) -> None:
    """Run a scenario over a grid of full x remote point counts; write a table and a plot."""
    from rich.progress import Progress

    from optimizer.scenario import load_scenario, sweep

    settings = get_settings()
    try:
        full_counts, remote_counts = (
            _parse_counts(full, "--full"),
            _parse_counts(remote, "--remote"),
        )
        scen = load_scenario(scenario, settings=settings)
        with Progress(console=err_console, transient=True) as bar:
            task = bar.add_task("sweep", total=len(full_counts) * len(remote_counts))

            def step(name: str) -> None:
                bar.update(task, description=name, advance=1 if name.startswith("solving") else 0)

            result = sweep(
                scen,
                full_points=full_counts,
                remote_points=remote_counts,
                settings=settings,
                progress=step,
            )
            paths = result.write(out or settings.output_dir / f"{scen.region}-{scen.name}-sweep")
    except OptimizerError as exc:
        raise _fail(exc) from exc
    table = Table(title=f"Sweep: {scen.name}")
    columns = {
        "full_points": ("full", "d"),
        "remote_points": ("remote", "d"),
        "status": ("status", ""),
        "mean_minutes_any": ("mean min (any)", ".1f"),
        "mean_minutes_full": ("mean min (full)", ".1f"),
        "t_co2": ("t CO2/yr", ",.0f"),
        "total_cost_eur": ("cost EUR/yr", ",.0f"),
    }
    for label, _ in columns.values():
        table.add_column(label, justify="right")
    for _, row in result.table.iterrows():
        table.add_row(
            *(
                "-" if row.get(key) is None or row.get(key) != row.get(key) else f"{row[key]:{fmt}}"
                for key, (_, fmt) in columns.items()
            )
        )
    console.print(table)
    console.print("\n".join(str(p) for p in paths))


def _parse_counts(text: str, option: str) -> list[int]:
    try:
        if ".." in text:
            lo, hi = (int(v) for v in text.split("..", 1))
            counts = list(range(lo, hi + 1))
        else:
            counts = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise typer.BadParameter(f"{option} takes a range like 1..3 or a list like 1,2,4") from exc
    if not counts or min(counts) < 0:
        raise typer.BadParameter(f"{option} needs at least one non-negative count, got {text!r}")
    return counts


@app.command("batch")
def batch_command(
    scenario: Annotated[
        str,
        typer.Option(help="Scenario TOML or shipped name, e.g. national (region key ignored)."),
    ],
    out: Annotated[Path, typer.Option(help="Output folder: one folder per region + summary.")],
    regions: Annotated[
        str, typer.Option(help="'all' or comma-separated region codes, names or slugs.")
    ] = "all",
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a running Dask scheduler (default: local).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Workers of the local cluster (default: cores).")
    ] = None,
    bundles: Annotated[
        Path | None, typer.Option(help="Extra folder of region bundles (e.g. from `synth`).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rerun regions whose outputs are complete.")] = False,
) -> None:
    """Run one scenario for many regions on Dask; write a national summary."""
    from optimizer.batch import run_batch

    try:
        result = run_batch(
            regions=regions,
            scenario=scenario,
            out_dir=out,
            scheduler=scheduler,
            workers=workers,
            bundles=bundles,
            force=force,
            progress=True,
            settings=get_settings(),
        )
    except OptimizerError as exc:
        raise _fail(exc) from exc
    table = Table(title="Batch")
    for col in ("region", "status", "seconds", "error"):
        table.add_column(col)
    for run in result.regions:
        table.add_row(run.region, run.status, f"{run.seconds:.1f}", run.error or "")
    console.print(table)
    total = result.summary.iloc[-1]
    console.print(
        f"{total['name']}: {total['residents']:,.0f} residents, "
        f"{total['t_co2']:,.0f} t CO2 per year from trips"
    )
    console.print(f"national summary: {result.summary_csv} and {result.summary_json}")
    if result.failed:
        err_console.print(f"[bold red]{len(result.failed)} region(s) failed[/]")
        raise typer.Exit(code=1)


if __name__ == "__main__":  # pragma: no cover
    app()

"""The ``optimizer`` command line (typer + rich).

Only the CLI configures logging and shows progress bars; the library stays quiet.
Every :class:`~optimizer.errors.OptimizerError` is printed as one clear line and
exits with status 2 (status 1 is reserved for "some regions of a batch failed").
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, ClassVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from optimizer._terminal import format_value, literal, print_result
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
# Markup is off: every string printed is shown as written, so that rich markup in data
# (site names, paths, messages) is never interpreted; styles are given with Text.
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)


@app.callback()
def _main(
    ctx: typer.Context,
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
        handlers=[RichHandler(console=err_console, show_path=False, markup=False)],
        force=True,
    )
    ctx.obj = {"verbose": verbose > 0}


def _fail(exc: BaseException) -> typer.Exit:
    """Print one error line (user text shown literally, never as markup) and exit with 2."""
    lines = [" ".join(line.split()) for line in str(exc).splitlines()]
    message = "; ".join(line for line in lines if line).replace(":;", ":")
    err_console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    return typer.Exit(code=2)


@app.command("regions")
def regions_command(
    bundles: Annotated[
        list[Path] | None,
        typer.Option("--bundles", help="Extra folder of bundles to search first (repeatable)."),
    ] = None,
) -> None:
    """List the regions: local bundles and the 18 mainland regions to fetch."""
    from optimizer.bundles import list_regions

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
            f"note: the {', '.join(s['synthetic_layers'])} layer(s) of this bundle "
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
    console.print(Text(f"wrote bundle {path}"))


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
    console.print(Text(f"wrote bundle {path}"))


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
        err_console.print("note: --finland-dir is ignored (tables ship with the package)")
    try:
        paths = write_national_bundles(out_root=out, codes=codes, year=year, overwrite=overwrite)
    except OptimizerError as exc:
        raise _fail(exc) from exc
    for path in paths:
        console.print(Text(f"{path} (synthetic grid and roads)"))


def _with_car_options(
    scenario: Any,
    *,
    drive_only: bool,
    speed_factor: float | None,
    parking_search_min: float | None,
    walk_m: float | None,
    access_speed_kmh: float | None,
    snap_threshold_m: float | None,
) -> Any:
    """Apply the ``run`` command's car-trip options to a scenario (``[travel.car]`` keys)."""
    from optimizer.traveltimes import ZONES, CarModel

    changes: dict[str, Any] = {}
    if drive_only:
        changes["travel.car.door_to_door"] = False
    if speed_factor is not None:
        bands = CarModel().speed_factors
        changes["travel.car.speed_factors"] = {f"{k:g}": speed_factor for k in bands}
    if parking_search_min is not None:
        changes["travel.car.parking_search_min"] = dict.fromkeys(ZONES, parking_search_min)
    if walk_m is not None:
        changes["travel.car.walk_to_car_m"] = dict.fromkeys(ZONES, walk_m)
        changes["travel.car.walk_from_parking_m"] = dict.fromkeys(ZONES, walk_m)
    if access_speed_kmh is not None:
        changes["travel.car.walk_speed_kmh"] = access_speed_kmh
    if snap_threshold_m is not None:
        changes["travel.car.snap_threshold_m"] = snap_threshold_m
    return scenario.with_changes(changes) if changes else scenario


@app.command("run")
def run_command(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario TOML (default: the demo scenario).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: results/); one folder per run.")
    ] = None,
    lang: Annotated[str, typer.Option(help="Language of the map and report: en, fi or sv.")] = "en",
    drive_only: Annotated[
        bool,
        typer.Option(
            "--drive-only",
            help="Plain driving times at the roads' speeds instead of door-to-door car "
            "trips (for comparison; overrides [travel.car]).",
        ),
    ] = False,
    speed_factor: Annotated[
        float | None,
        typer.Option(help="Driving speed as a share of the posted speed, on every road."),
    ] = None,
    parking_search_min: Annotated[
        float | None, typer.Option(help="Minutes to find a parking place, in every zone.")
    ] = None,
    walk_m: Annotated[
        float | None,
        typer.Option(help="Metres walked to the car and from the parking place, in every zone."),
    ] = None,
    access_speed_kmh: Annotated[
        float | None, typer.Option(help="Walking speed on the access leg and the terminal walks.")
    ] = None,
    snap_threshold_m: Annotated[
        float | None,
        typer.Option(help="Cells farther than this from the roads count as unreachable."),
    ] = None,
) -> None:
    """Choose full and remote service points for a scenario and report the estimates."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from optimizer.outputs import write_outputs
    from optimizer.scenario import load_scenario, run_scenario

    if lang not in ("en", "fi", "sv"):
        raise _fail(OptimizerError(f"--lang {lang!r} is not supported; use en, fi or sv"))
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
            scen = _with_car_options(
                scen,
                drive_only=drive_only,
                speed_factor=speed_factor,
                parking_search_min=parking_search_min,
                walk_m=walk_m,
                access_speed_kmh=access_speed_kmh,
                snap_threshold_m=snap_threshold_m,
            )
            result = run_scenario(scen, settings=settings, progress=step)
            step("writing outputs")
            paths = write_outputs(result, out, lang=lang, settings=settings)
    except (OptimizerError, OSError) as exc:
        raise _fail(exc) from exc
    print_result(console, result, paths)


@app.command("sweep")
def sweep_command(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario TOML (default: the demo scenario).")
    ] = None,
    full: Annotated[str, typer.Option(help="Full points, e.g. 1..3 or 1,2,4.")] = "1..3",
    remote: Annotated[str, typer.Option(help="Remote points, e.g. 0..8.")] = "0..8",
    out: Annotated[Path | None, typer.Option(help="Output folder (default: results/).")] = None,
    lang: Annotated[str, typer.Option(help="Language of the map and report: en, fi or sv.")] = "en",
) -> None:
    """Run a scenario over a grid of full x remote point counts; write a table, a chart, a report.

    Writes OUT/<region>-<scenario>-sweep/: sweep.csv and sweep.png, and the
    scenario's own network as a run writes it, its report with the chart.
    """
    from rich.progress import Progress

    from optimizer.outputs import write_outputs
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
                with_run=True,
            )
            assert result.run is not None
            step("writing outputs")
            written = write_outputs(
                result.run,
                out,
                lang=lang,
                name=f"{result.run.name}-sweep",
                settings=settings,
                sweep=result,
            )
    except (OptimizerError, OSError) as exc:
        raise _fail(exc) from exc
    table = Table(title=literal(f"Sweep: {scen.name}"))
    columns = {
        "full_points": ("full", "count"),
        "remote_points": ("remote", "count"),
        "status": ("status", ""),
        "mean_minutes_any": ("mean min (any)", "min"),
        "mean_minutes_full": ("mean min (full)", "min"),
        "t_co2": ("t CO2/yr", "t CO2/yr"),
        "total_cost_eur": ("cost EUR/yr", "EUR/yr"),
    }
    for label, _ in columns.values():
        table.add_column(label, justify="right")
    for _, row in result.table.iterrows():
        cells = []
        for key, (_, unit) in columns.items():
            value = row.get(key)
            if unit == "":
                cells.append(str(value))
            elif value is None or value != value:
                cells.append("-")
            else:
                cells.append(format_value(float(value), unit))
        table.add_row(*cells)
    console.print(table)
    paths = (written.sweep_table, written.sweep_chart, written.report, written.map)
    console.print(Text("\n".join(str(p) for p in paths)))


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


class _BatchDisplay:
    """Per-region progress rows for ``optimizer batch`` (rich, on stderr)."""

    _DONE: ClassVar[dict[str, str]] = {
        "done": "done",
        "skipped": "skipped (up to date)",
        "failed": "failed",
    }

    def __init__(self) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(finished_text="•"),
            TextColumn("{task.description:<22}"),
            TextColumn("{task.fields[step]}"),
            TimeElapsedColumn(),
            console=err_console,
        )
        self.rows: dict[str, Any] = {}

    def __call__(self, slug: str, step: str) -> None:
        row = self.rows.get(slug)
        if row is None:
            row = self.rows[slug] = self.progress.add_task(slug, total=1, step="")
        final = step in self._DONE
        self.progress.update(row, step=self._DONE.get(step, step), completed=1 if final else 0)
        if final:
            self.progress.stop_task(row)


@app.command("batch")
def batch_command(
    ctx: typer.Context,
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

    verbose = bool((ctx.obj or {}).get("verbose"))
    display = _BatchDisplay()
    try:
        with display.progress:
            result = run_batch(
                regions=regions,
                scenario=scenario,
                out_dir=out,
                scheduler=scheduler,
                workers=workers,
                bundles=bundles,
                force=force,
                progress=display,
                verbose=verbose,
                settings=get_settings(),
            )
    except (OptimizerError, OSError) as exc:
        raise _fail(exc) from exc
    table = Table(title="Batch")
    for col in ("region", "status", "seconds", "error"):
        table.add_column(col)
    for run in result.regions:
        table.add_row(
            literal(run.region), run.status, f"{run.seconds:.1f}", literal(run.error or "")
        )
    console.print(table)
    total = result.summary.iloc[-1]
    console.print(
        Text(
            f"{total['name']}: {total['residents']:,.0f} residents, "
            f"{total['t_co2']:,.0f} t CO2 per year from trips"
        )
    )
    console.print(Text(f"national summary: {result.summary_csv} and {result.summary_json}"))
    if result.failed:
        err_console.print(Text(f"{len(result.failed)} region(s) failed", style="bold red"))
        raise typer.Exit(code=1)


if __name__ == "__main__":  # pragma: no cover
    app()

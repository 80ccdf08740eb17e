"""The ``optimizer`` command line (typer + rich).

Only the CLI configures logging and shows progress bars; the library stays quiet.
Every :class:`~optimizer.errors.OptimizerError` is printed as one clear line and
exits with status 2 (status 1 is reserved for "some regions of a batch failed").
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

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
def regions_command() -> None:
    """List the regions: local bundles and the 18 mainland regions to fetch."""
    from optimizer.region import list_regions

    try:
        infos = list_regions(settings=get_settings())
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
    from optimizer.region import load_region

    try:
        reg = load_region(region, settings=get_settings())
    except OptimizerError as exc:
        raise _fail(exc) from exc
    s = reg.summary()
    table = Table(title=f"{reg.name} ({reg.code})", show_header=False)
    table.add_column("field")
    table.add_column("value", justify="right")
    table.add_row("population", f"{s['population']:,}")
    table.add_row("grid cells (1 km)", f"{s['cells']:,}")
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
    overwrite: Annotated[bool, typer.Option(help="Replace an existing bundle.")] = False,
) -> None:
    """Build a real bundle from Statistics Finland WFS and OpenStreetMap (online)."""
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
    overwrite: Annotated[bool, typer.Option(help="Replace an existing bundle.")] = False,
) -> None:
    """Build a bundle from your own grid, roads and sites files (works offline)."""
    from optimizer.region import bundle_from_files

    if not from_files:
        raise typer.BadParameter(
            "pass --from-files with --population, --roads and --sites; "
            "use `optimizer fetch` to build a bundle from online sources"
        )
    try:
        path = bundle_from_files(
            out_dir=out,
            name=name,
            code=code,
            year=year,
            population_file=population,
            roads_file=roads,
            sites_file=sites,
            boundary_file=boundary,
            overwrite=overwrite,
            settings=get_settings(),
        )
    except OptimizerError as exc:
        raise _fail(exc) from exc
    console.print(f"wrote bundle [bold]{path}[/]")


@app.command("synth")
def synth_command(
    finland_dir: Annotated[
        Path, typer.Option(help="Folder with the national tables (e.g. ../shared/data/finland).")
    ],
    out: Annotated[Path, typer.Option(help="Folder to write the bundles into.")],
    regions: Annotated[
        str, typer.Option(help="'all' or comma-separated maakunta codes, e.g. 12,19.")
    ] = "all",
    overwrite: Annotated[bool, typer.Option(help="Replace existing bundles.")] = False,
) -> None:
    """Build SYNTHETIC bundles for mainland regions (the offline national test set)."""
    from optimizer.synthetic import write_national_bundles

    codes = None if regions == "all" else [c.strip() for c in regions.split(",") if c.strip()]
    try:
        paths = write_national_bundles(
            finland_dir=finland_dir, out_root=out, codes=codes, overwrite=overwrite
        )
    except OptimizerError as exc:
        raise _fail(exc) from exc
    for path in paths:
        console.print(f"{path} [yellow](synthetic grid and roads)[/]")


if __name__ == "__main__":  # pragma: no cover
    app()

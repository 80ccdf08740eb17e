"""Facts tables: the small tables of real facts a synthetic region is generated from.

A *facts table* (TOML, see ``data/facts/pohjois-karjala.toml``) holds real
municipal populations and centre coordinates, the main localities and the
main road links with their class and speed. :func:`load_facts` reads and
checks one; :func:`optimizer.sources.synthetic.facts_from_finland` builds one
for any mainland region from the packaged national tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from optimizer._fields import parse_bool
from optimizer._files import read_toml
from optimizer.errors import DataError

__all__ = [
    "HIGHWAY_BY_CLASS",
    "LocalityFact",
    "MunicipalityFact",
    "RegionFacts",
    "RoadFact",
    "check_facts",
    "iter_reference_pairs",
    "load_facts",
    "place_names",
]

HIGHWAY_BY_CLASS: Mapping[str, str] = {
    "valtatie": "trunk",
    "kantatie": "primary",
    "seututie": "secondary",
    "yhdystie": "tertiary",
}
"""Finnish road class -> OSM highway tag of the generated edges."""


@dataclass(frozen=True)
class MunicipalityFact:
    """A municipality: code, name, population and centre (WGS84)."""

    code: str
    name: str
    population: int
    lon: float
    lat: float
    centre_share: float = 0.5
    spread_km: float = 1.2


@dataclass(frozen=True)
class LocalityFact:
    """A village or secondary locality inside a municipality."""

    name: str
    municipality: str
    lon: float
    lat: float
    share: float
    spread_km: float = 1.0
    site: bool = False


@dataclass(frozen=True)
class RoadFact:
    """A main road link through named localities or ``(lon, lat)`` waypoints."""

    ref: str
    name: str
    road_class: str
    speed_kmh: float
    via: tuple[str | tuple[float, float], ...]


@dataclass(frozen=True)
class RegionFacts:
    """The real facts a synthetic region is generated from."""

    name: str
    slug: str
    code: str
    year: int
    seed: int
    municipalities: tuple[MunicipalityFact, ...]
    localities: tuple[LocalityFact, ...] = ()
    roads: tuple[RoadFact, ...] = ()
    existing_site: str | None = None
    reference_times_min: Mapping[str, float] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)


def load_facts(path: str | Path) -> RegionFacts:
    """Read a facts table (TOML).

    Parameters
    ----------
    path
        The TOML file, in the format of ``data/facts/pohjois-karjala.toml``.

    Returns
    -------
    RegionFacts
        The parsed facts.

    Raises
    ------
    DataError
        If a required key is missing or a value is invalid; names the file and key.
    """
    path = Path(path)
    raw = read_toml(path, what="facts table")
    try:
        municipalities = tuple(
            MunicipalityFact(
                code=str(m["code"]).zfill(3),
                name=str(m["name"]),
                population=int(m["population"]),
                lon=float(m["lon"]),
                lat=float(m["lat"]),
                centre_share=float(m.get("centre_share", 0.5)),
                spread_km=float(m.get("spread_km", 1.2)),
            )
            for m in raw["municipality"]
        )
        localities = tuple(
            LocalityFact(
                name=str(loc["name"]),
                municipality=str(loc["municipality"]).zfill(3),
                lon=float(loc["lon"]),
                lat=float(loc["lat"]),
                share=float(loc["share"]),
                spread_km=float(loc.get("spread_km", 1.0)),
                site=parse_bool(loc.get("site", False), where=f"{path} locality site"),
            )
            for loc in raw.get("locality", [])
        )
        roads = tuple(
            RoadFact(
                ref=str(r["ref"]),
                name=str(r["name"]),
                road_class=str(r["class"]),
                speed_kmh=float(r["speed_kmh"]),
                via=tuple(
                    v if isinstance(v, str) else (float(v[0]), float(v[1])) for v in r["via"]
                ),
            )
            for r in raw.get("road", [])
        )
        facts = RegionFacts(
            name=str(raw["name"]),
            slug=str(raw["slug"]),
            code=str(raw["code"]),
            year=int(raw["year"]),
            seed=int(raw.get("seed", 0)),
            municipalities=municipalities,
            localities=localities,
            roads=roads,
            existing_site=raw.get("existing_site"),
            reference_times_min=dict(raw.get("reference_times_min", {})),
            sources=dict(raw.get("sources", {})),
        )
    except KeyError as exc:
        raise DataError(f"{path}: missing key {exc.args[0]!r} in the facts table") from None
    except (TypeError, ValueError, IndexError) as exc:
        raise DataError(f"{path}: a value of the facts table is invalid: {exc}") from None
    check_facts(facts, source=str(path))
    return facts


def check_facts(facts: RegionFacts, *, source: str) -> None:
    codes = {m.code for m in facts.municipalities}
    if not codes:
        raise DataError(f"{source}: the facts table lists no municipality")
    for m in facts.municipalities:
        if m.population < 0:
            raise DataError(f"{source}: municipality {m.code} has negative population")
    for loc in facts.localities:
        if loc.municipality not in codes:
            raise DataError(
                f"{source}: locality {loc.name!r} names municipality {loc.municipality!r}, "
                f"which is not in the table ({sorted(codes)})"
            )
    for m in facts.municipalities:
        settled = m.centre_share + sum(
            loc.share for loc in facts.localities if loc.municipality == m.code
        )
        if settled > 1.0 + 1e-9:
            raise DataError(
                f"{source}: municipality {m.code} ({m.name}) has centre and locality shares "
                f"summing to {settled:.2f} > 1; lower them"
            )
    names = place_names(facts)
    for road in facts.roads:
        for v in road.via:
            if isinstance(v, str) and v not in names:
                raise DataError(
                    f"{source}: road {road.name!r} passes {v!r}, which is neither a "
                    "municipality nor a locality of the table"
                )
        if road.road_class not in HIGHWAY_BY_CLASS:
            raise DataError(
                f"{source}: road {road.name!r} has class {road.road_class!r}; "
                f"allowed: {sorted(HIGHWAY_BY_CLASS)}"
            )


def place_names(facts: RegionFacts) -> dict[str, tuple[float, float]]:
    """Return place name -> (lon, lat) of every municipal centre and locality."""
    places = {m.name: (m.lon, m.lat) for m in facts.municipalities}
    places.update({loc.name: (loc.lon, loc.lat) for loc in facts.localities})
    return places


def iter_reference_pairs(facts: RegionFacts) -> Iterable[tuple[str, str, float]]:
    """Yield ``(origin, destination, minutes)`` for the facts' reference driving times."""
    for key, minutes in facts.reference_times_min.items():
        a, b = key.split("-", 1)
        yield a, b, float(minutes)

"""Rebuild the embedded demo bundle data/regions/pohjois-karjala from its facts table.

Usage: python data/build_demo_region.py

The facts table data/facts/pohjois-karjala.toml is real (cited there), and so are the
municipal boundaries (data/finland): every cell lies in the real boundary of its
municipality and the outline is their union. The grid and road graph generated from the
facts are synthetic and marked so in region.toml. The output is deterministic: the same
facts and seed give the same layers.
"""

from __future__ import annotations

import logging
from pathlib import Path

from optimizer import finland
from optimizer.sources.synthetic import load_facts, write_synthetic_bundle

HERE = Path(__file__).resolve().parent


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    facts = load_facts(HERE / "facts" / "pohjois-karjala.toml")
    boundaries = finland.municipality_boundaries(finland.municipalities_of_region(facts.code))
    out = write_synthetic_bundle(
        facts, HERE / "regions" / facts.slug, boundaries=boundaries, overwrite=True
    )
    logging.info("wrote %s", out)


if __name__ == "__main__":
    main()

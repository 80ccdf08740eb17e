"""Rebuild the embedded demo bundle data/regions/pohjois-karjala from its facts table.

Usage: python data/build_demo_region.py

The facts table data/facts/pohjois-karjala.toml is real (cited there); the grid and
road graph generated from it are synthetic and marked so in region.toml. The output is
deterministic: the same facts and seed give the same layers.
"""

from __future__ import annotations

import logging
from pathlib import Path

from optimizer.synthetic import load_facts, write_synthetic_bundle

HERE = Path(__file__).resolve().parent


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    facts = load_facts(HERE / "facts" / "pohjois-karjala.toml")
    out = write_synthetic_bundle(facts, HERE / "regions" / facts.slug, overwrite=True)
    logging.info("wrote %s", out)


if __name__ == "__main__":
    main()

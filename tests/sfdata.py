"""spopt's San Francisco p-center instance, read from the installed spopt package."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def sf_cost() -> np.ndarray:
    """Network distances (m) from 205 census tracts to 16 candidate stores, shipped with spopt."""
    import pandas as pd
    import spopt

    path = (
        Path(spopt.__file__).parent
        / "tests/test_locate/data/SF_network_distance_candidateStore_16_censusTract_205_new.csv"
    )
    table = pd.read_csv(path)
    pivot = table.pivot_table(values="distance", index="DestinationName", columns="name")
    return np.ascontiguousarray(pivot.to_numpy(dtype=float))

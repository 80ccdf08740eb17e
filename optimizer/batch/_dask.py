"""The Dask side of a batch: a quiet local cluster or a connection to a running one."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from optimizer.errors import OptimizerError

__all__ = ["dask_client", "quiet_dask"]

logger = logging.getLogger(__name__)

#: Loggers of dask.distributed that report cluster start-up, shutdown and
#: connection chatter at INFO (and a harmless ``CommClosedError`` at shutdown).
_DASK_LOGGERS = ("distributed", "tornado", "asyncio")


@contextlib.contextmanager
def quiet_dask(*, verbose: bool) -> Iterator[None]:
    """Silence Dask's own logging below ERROR for the duration of a batch, unless ``verbose``.

    distributed attaches its own handler and sets the levels of its loggers
    from the Dask config when imported; this lowers its chatter only while the
    batch runs (whether distributed is imported before or during it) and
    restores the levels afterwards.
    """
    if verbose:
        yield
        return
    import dask.config

    saved = {name: logging.getLogger(name).level for name in _DASK_LOGGERS}
    # importing distributed sets its loggers' levels from the Dask config ("logging"
    # section): quiet them there too, for a distributed first imported inside the batch
    quiet = {f"logging.{name}": "critical" for name in _DASK_LOGGERS}
    try:
        for name in _DASK_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        with dask.config.set(quiet):
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _local_cluster(n: int) -> Any:
    """Start a quiet LocalCluster of ``n`` single-threaded worker processes."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        # no dashboard; the scheduler's small HTTP server (health, metrics) takes a free
        # port instead of trying 8787, which may be taken by another cluster
        scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"},
        silence_logs=logging.CRITICAL,
    )


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """Yield a Dask client: on a new LocalCluster, or connected to ``scheduler``."""
    from distributed import Client

    if scheduler is not None:
        if workers is not None:
            logger.warning("workers=%d is ignored with a scheduler address", workers)
        try:
            client = Client(scheduler)
        except (OSError, TimeoutError, ValueError) as exc:
            raise OptimizerError(
                f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}; check the "
                "address (e.g. tcp://host:8786) or leave the scheduler out to run on this machine"
            ) from exc
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    try:
        cluster = _local_cluster(n)
    except Exception as exc:
        raise OptimizerError(
            f"cannot start a local Dask cluster of {n} worker process(es): "
            f"{type(exc).__name__}: {exc}; a script that calls run_batch must guard its main "
            "code with `if __name__ == '__main__':` (workers are started with spawn), or give "
            "the address of a running scheduler"
        ) from exc
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()

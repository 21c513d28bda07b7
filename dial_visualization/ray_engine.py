"""``--engine ray``: a command's images spread over a Ray cluster (the ``[ray]`` extra).

Ray Data reads the list of images (one row per image: its path and its position in the
run), ``map_batches`` sends batches of rows to a fixed pool of actors, each of which loads
the model once (one GPU per actor when the cluster has GPUs) and runs the command's own
per-image work (:meth:`Job.process`, the same code the local engine runs). An actor
writes its files into a temporary folder and returns them, with each image's line,
warnings and error, to this process, which writes them under ``--out``: the output
folder need not be shared, but every node must read the images at the paths given (a
shared filesystem) and have this package installed.

Without ``--ray-address`` a local Ray instance is started for the run (or the one this
process already started is used).
"""

from __future__ import annotations

import logging
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

EXTRA = 'pip install "dial-visualization[ray]"'
#: Rows per ``map_batches`` batch: an actor batches its images again itself.
ROWS_PER_BATCH = 32


def require_ray():
    """The ``ray`` module, or a one-line error naming the extra."""
    from .cli import UsageError

    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise UsageError(f"--engine ray needs Ray, which is not installed: {EXTRA}") from None
    return ray


class RayActor:
    """One actor of the pool: the job opened once (model loaded), then batches of rows."""

    def __init__(self, job):
        from .core.tf_environment import import_tensorflow_quietly

        import_tensorflow_quietly()
        self.job = job
        self.worker = job.open()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [{key: _plain(batch[key][i]) for key in batch} for i in range(len(batch["path"]))]
        folder = Path(tempfile.mkdtemp(prefix="dial-visualization-"))
        positions, payloads = [], []
        try:
            for item in self.job.process(self.worker, rows, folder):
                files = {name: (folder / name).read_bytes() for name in item.get("files", [])}
                for name in files:
                    (folder / name).unlink()
                positions.append(item["position"])
                payloads.append(pickle.dumps({**item, "file_bytes": files}))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return {"position": np.asarray(positions, dtype=np.int64),
                "payload": np.asarray(payloads, dtype=object)}


def _from_items(ray, rows: list[dict], blocks: int):
    """A dataset of ``rows`` in ``blocks`` blocks, so that every actor gets some."""
    import inspect

    keyword = ("override_num_blocks" if "override_num_blocks" in
               inspect.signature(ray.data.from_items).parameters else "parallelism")
    return ray.data.from_items(rows, **{keyword: max(1, blocks)})


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def run(job, rows: list[dict], *, address: str | None, actors: int | None,
        out: Path) -> Iterator[dict]:
    """Run ``job.process`` on ``rows`` over Ray; yield each row's item as it comes back,
    its files written under ``out`` (in the order the actors finish)."""
    ray = require_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR, configure_logging=True)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        size = actors or gpus or max(1, len([n for n in ray.nodes() if n.get("Alive")]))
        # at least two batches per actor, at most ROWS_PER_BATCH rows each
        blocks = min(len(rows), max(2 * size, -(-len(rows) // ROWS_PER_BATCH)))
        dataset = _from_items(ray, rows, blocks)
        results = dataset.map_batches(
            RayActor, fn_constructor_kwargs={"job": job},
            batch_size=-(-len(rows) // max(1, blocks)),
            compute=ray.data.ActorPoolStrategy(size=size), num_gpus=1 if gpus else 0,
            num_cpus=1, batch_format="numpy")
        for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
            for payload in batch["payload"]:
                item = pickle.loads(payload)
                for name, data in item.pop("file_bytes").items():
                    (out / name).write_bytes(data)
                yield item
    finally:
        if started:
            ray.shutdown()

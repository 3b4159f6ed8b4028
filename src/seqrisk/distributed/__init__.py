"""Running the engine on a Dask cluster (layer 6: it talks to a network): ``pip install 'seqrisk[distributed]'``.

>>> from seqrisk.distributed import DaskBackend                      # doctest: +SKIP
>>> with DaskBackend(scheduler="tcp://10.0.0.5:8786") as dask:       # doctest: +SKIP
...     result = seqrisk.simulate(book, model, scenario, backend=dask)

The same numbers as a local run, bit for bit; see docs/distributed.md for
deployment (an existing cluster, Kubernetes, HPC schedulers) and the worker
environment. Importing this package does not import Dask.
"""

from seqrisk.distributed.dask_backend import DaskBackend
from seqrisk.distributed.environment import environment, first_difference

__all__ = ["DaskBackend", "environment", "first_difference"]

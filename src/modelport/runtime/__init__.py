"""Runtime: warm worker processes that run algorithms, one pool per build.

``runner.py`` runs inside the algorithm's virtualenv (stdlib only); ``worker.py`` is one process
seen from the server; ``pool.py`` queues calls over a build's workers; ``supervisor.py`` keeps the
pools and scales idle ones to zero.
"""

from modelport.runtime.pool import PoolBusy, PoolClosed, PoolStats, WorkerPool
from modelport.runtime.supervisor import Supervisor
from modelport.runtime.worker import CallOutcome, InvalidWorkerState, Worker, WorkerSpec, WorkerState

__all__ = [
    "CallOutcome",
    "InvalidWorkerState",
    "PoolBusy",
    "PoolClosed",
    "PoolStats",
    "Supervisor",
    "Worker",
    "WorkerPool",
    "WorkerSpec",
    "WorkerState",
]

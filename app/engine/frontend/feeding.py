"""How a run feeds one kind of front-end: what each kind's driver says about its batches.

Each kind's driver (``local/kind.py``, ``ssh/kind.py``) has one ``Feeding``; the deploy runs read
it (``kinds.feeding_of``) to size their batches, to choose whether worker processes write, and
to know where the switches are made durable, so that nothing else tells kinds apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feeding:
    """How a run hands its modules to one kind of front-end.

    ``batch``: modules per batch at most; a batch pays a kind's fixed costs once (a shared disk
    flush, round trips over the network). ``spread``: batches per run worker the ready modules
    are cut into while many are ready: more keep every worker busy and the progress smooth,
    fewer make bigger batches. ``worker_processes``: whether a run's worker processes may write
    to it themselves, each with a target (a connection) of its own; otherwise the run's own
    process does it through one target for the whole run. ``durable_per_batch``: each batch
    makes its own switches durable before it reports them, so that the run's coordinator never
    waits on the front-end; otherwise the coordinator flushes once for several batches before it
    records them.
    """

    batch: int
    spread: int
    worker_processes: bool
    durable_per_batch: bool

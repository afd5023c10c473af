"""The data centre: the record store, the 20 record statuses, the centre's checks, the batch
de-duplication job (in this process or on Dask), adjudication and deletion, and the demo.

Modules: :mod:`~afis.centre.status` (lifecycle), :mod:`~afis.centre.store` (SQLAlchemy
Core store, SQLite or PostgreSQL, Alembic migrations in :mod:`~afis.centre.migrate`),
:mod:`~afis.centre.checks`, :mod:`~afis.centre.dedup`, :mod:`~afis.centre.adjudication`,
:mod:`~afis.centre.demo`, :mod:`~afis.centre.cli` (the ``afis`` subcommands) and
:mod:`~afis.centre.constants`.

Examples
--------
>>> from afis.centre import Status, Store
>>> store = Store("sqlite://")
>>> store.status_counts()
{}
>>> Status.PRINT_READY_RECORD.phase
'printing'
"""

from afis.centre.status import IllegalTransition, Status
from afis.centre.store import Person, Sample, SampleState, Store, StoreError

__all__ = ["IllegalTransition", "Person", "Sample", "SampleState", "Status", "Store", "StoreError"]

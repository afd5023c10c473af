"""The e-KTP enrolment lifecycle, one layer built on the :mod:`afis` engine: the data centre's
record store, the 20 record statuses, the centre's checks, the batch de-duplication job (in
this process or on Dask), adjudication and deletion requests, and the demo.

The engine never imports this package (this package imports the engine). Its third-party
dependencies (SQLAlchemy, Alembic, psycopg, Dask) come with the ``enrollment`` extra:
``pip install "nusafis[enrollment]"``.

Modules: :mod:`~enrollment.status` (lifecycle), :mod:`~enrollment.store` (SQLAlchemy
Core store, SQLite or PostgreSQL, Alembic migrations in :mod:`~enrollment.migrate`),
:mod:`~enrollment.checks`, :mod:`~enrollment.dedup`, :mod:`~enrollment.adjudication`,
:mod:`~enrollment.demo`, :mod:`~enrollment.cli` (the ``afis-enrollment`` command) and
:mod:`~enrollment.constants`.

Examples
--------
>>> from enrollment import Status, Store
>>> store = Store("sqlite://")
>>> store.status_counts()
{}
>>> Status.PRINT_READY_RECORD.phase
'printing'
"""

from enrollment.status import IllegalTransition, Status
from enrollment.store import Person, Sample, SampleState, Store, StoreError

__all__ = ["IllegalTransition", "Person", "Sample", "SampleState", "Status", "Store", "StoreError"]

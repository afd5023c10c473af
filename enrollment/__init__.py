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
:mod:`~enrollment.constants`; :mod:`enrollment.capture` is the capture session at the service
point (devices, quality gates, exceptions, chip fingers, sign-off).

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

# The record store needs SQLAlchemy: loaded on first use, so that the parts of the layer a
# holder's phone or an offline verifier embeds (KTP Digital's credential, wallet and
# verifier) import no SQL toolkit.
_STORE_NAMES = ("Person", "Sample", "SampleState", "Store", "StoreError")


def __getattr__(name: str) -> object:
    if name not in _STORE_NAMES:
        raise AttributeError(f"module 'enrollment' has no attribute {name!r}")
    import enrollment.store

    value = getattr(enrollment.store, name)
    globals()[name] = value
    return value


__all__ = ["IllegalTransition", "Person", "Sample", "SampleState", "Status", "Store", "StoreError"]

"""The 20 statuses of an e-KTP enrolment record and the transitions allowed between them.

The statuses come in six phases (see the project's ``DOMAIN.md``): start, capture, transfer,
checks at the data centre, de-duplication and printing. :data:`TRANSITIONS` is the one table
of allowed moves; :func:`check_transition` refuses anything else with
:class:`IllegalTransition` (the store calls it before it changes anything).

Examples
--------
>>> Status.SENT_FOR_DEDUP.phase
'checks'
>>> check_transition(Status.SENT_FOR_DEDUP, Status.PRINT_READY_RECORD)
>>> check_transition(Status.CARD_ISSUED, Status.SENT_FOR_DEDUP)
Traceback (most recent call last):
...
enrollment.status.IllegalTransition: CARD_ISSUED -> SENT_FOR_DEDUP is not an allowed transition
>>> len(Status), Status.PRINT_READY_RECORD in UNIQUE_STATUSES
(20, True)
"""

from __future__ import annotations

import enum
from types import MappingProxyType

from afis.errors import AfisError

__all__ = [
    "PENDING_STATUSES",
    "TRANSITIONS",
    "UNIQUE_STATUSES",
    "IllegalTransition",
    "Status",
    "allowed",
    "check_transition",
]


class Status(str, enum.Enum):
    """Lifecycle status of one enrolment record (the value is the name stored in the database)."""

    # 1. start
    UNREGISTERED = "UNREGISTERED"
    # 2. capture at the service point
    BIO_CAPTURED = "BIO_CAPTURED"
    PROCESSING = "PROCESSING"
    # 3. transfer to the data centre
    SENT_FOR_ENROLLMENT = "SENT_FOR_ENROLLMENT"
    RECEIVED_AT_CENTRAL = "RECEIVED_AT_CENTRAL"
    # 4. checks at the centre
    ENROLL_FAILURE_AT_CENTRAL = "ENROLL_FAILURE_AT_CENTRAL"
    SEARCH_FAILURE_AT_CENTRAL = "SEARCH_FAILURE_AT_CENTRAL"
    ENROLL_FAILURE_AT_REGIONAL = "ENROLL_FAILURE_AT_REGIONAL"
    PACKET_ENTRY = "PACKET_ENTRY"
    SENT_FOR_DEDUP = "SENT_FOR_DEDUP"
    # 5. de-duplication
    DUPLICATE_RECORD = "DUPLICATE_RECORD"
    ADJUDICATE_RECORD = "ADJUDICATE_RECORD"
    REQUEST_VALIDATION = "REQUEST_VALIDATION"
    REQUEST_FOR_DELETION = "REQUEST_FOR_DELETION"
    # 6. printing
    PRINT_READY_RECORD = "PRINT_READY_RECORD"
    SENT_FOR_CARD_PRINTING = "SENT_FOR_CARD_PRINTING"
    CARD_PRINTED = "CARD_PRINTED"
    CARD_SHIPPED = "CARD_SHIPPED"
    CARD_ISSUED = "CARD_ISSUED"
    # the end of a deletion request the centre approved: DOMAIN.md names 19 statuses; the
    # 20th is where a deleted record rests (its row stays for the audit trail)
    DELETED = "DELETED"

    @property
    def phase(self) -> str:
        """``start``, ``capture``, ``transfer``, ``checks``, ``dedup`` or ``printing``."""
        return _PHASES[self]

    def __str__(self) -> str:
        return self.value


_PHASES = MappingProxyType(
    {
        Status.UNREGISTERED: "start",
        Status.BIO_CAPTURED: "capture",
        Status.PROCESSING: "capture",
        Status.SENT_FOR_ENROLLMENT: "transfer",
        Status.RECEIVED_AT_CENTRAL: "transfer",
        Status.ENROLL_FAILURE_AT_CENTRAL: "checks",
        Status.SEARCH_FAILURE_AT_CENTRAL: "checks",
        Status.ENROLL_FAILURE_AT_REGIONAL: "checks",
        Status.PACKET_ENTRY: "checks",
        Status.SENT_FOR_DEDUP: "checks",
        Status.DUPLICATE_RECORD: "dedup",
        Status.ADJUDICATE_RECORD: "dedup",
        Status.REQUEST_VALIDATION: "dedup",
        Status.REQUEST_FOR_DELETION: "dedup",
        Status.DELETED: "dedup",
        Status.PRINT_READY_RECORD: "printing",
        Status.SENT_FOR_CARD_PRINTING: "printing",
        Status.CARD_PRINTED: "printing",
        Status.CARD_SHIPPED: "printing",
        Status.CARD_ISSUED: "printing",
    }
)

S = Status
#: Every allowed move: ``TRANSITIONS[a]`` is the set of statuses a record in ``a`` may enter.
TRANSITIONS: MappingProxyType[Status, frozenset[Status]] = MappingProxyType(
    {
        S.UNREGISTERED: frozenset({S.BIO_CAPTURED}),
        S.BIO_CAPTURED: frozenset({S.PROCESSING}),
        # the regional server rejects a packet whose area code is wrong before sending it
        S.PROCESSING: frozenset({S.SENT_FOR_ENROLLMENT, S.ENROLL_FAILURE_AT_REGIONAL}),
        S.SENT_FOR_ENROLLMENT: frozenset({S.RECEIVED_AT_CENTRAL}),
        # the centre's checks (enrollment.checks)
        S.RECEIVED_AT_CENTRAL: frozenset(
            {
                S.SENT_FOR_DEDUP,
                S.REQUEST_VALIDATION,
                S.ENROLL_FAILURE_AT_CENTRAL,
                S.ENROLL_FAILURE_AT_REGIONAL,
            }
        ),
        # failures are cured by the region re-sending the packet
        S.ENROLL_FAILURE_AT_CENTRAL: frozenset({S.PACKET_ENTRY}),
        S.ENROLL_FAILURE_AT_REGIONAL: frozenset({S.PACKET_ENTRY}),
        S.PACKET_ENTRY: frozenset({S.RECEIVED_AT_CENTRAL}),
        # the de-duplication job (enrollment.dedup); a failed search is retried
        S.SENT_FOR_DEDUP: frozenset(
            {
                S.DUPLICATE_RECORD,
                S.ADJUDICATE_RECORD,
                S.PRINT_READY_RECORD,
                S.SEARCH_FAILURE_AT_CENTRAL,
            }
        ),
        S.SEARCH_FAILURE_AT_CENTRAL: frozenset({S.SENT_FOR_DEDUP, S.PACKET_ENTRY}),
        # adjudication (enrollment.adjudication): same person or different people
        S.ADJUDICATE_RECORD: frozenset({S.DUPLICATE_RECORD, S.PRINT_READY_RECORD}),
        # the region analyses the record against its counterpart and may ask for deletion
        S.DUPLICATE_RECORD: frozenset({S.REQUEST_FOR_DELETION}),
        S.REQUEST_VALIDATION: frozenset({S.PACKET_ENTRY, S.REQUEST_FOR_DELETION}),
        # a rejected request returns the record to where it was
        S.REQUEST_FOR_DELETION: frozenset({S.DELETED, S.DUPLICATE_RECORD, S.REQUEST_VALIDATION}),
        S.DELETED: frozenset(),
        # printing; a card that fails the pick-up check is destroyed and printed again
        S.PRINT_READY_RECORD: frozenset({S.SENT_FOR_CARD_PRINTING}),
        S.SENT_FOR_CARD_PRINTING: frozenset({S.CARD_PRINTED}),
        S.CARD_PRINTED: frozenset({S.CARD_SHIPPED}),
        S.CARD_SHIPPED: frozenset({S.CARD_ISSUED, S.PRINT_READY_RECORD}),
        S.CARD_ISSUED: frozenset(),
    }
)
del S

#: Statuses of records found unique: the gallery every new record is searched against.
UNIQUE_STATUSES = frozenset(
    {
        Status.PRINT_READY_RECORD,
        Status.SENT_FOR_CARD_PRINTING,
        Status.CARD_PRINTED,
        Status.CARD_SHIPPED,
        Status.CARD_ISSUED,
    }
)

#: Statuses waiting for a person (an adjudicator at the centre or the region).
PENDING_STATUSES = frozenset(
    {Status.ADJUDICATE_RECORD, Status.REQUEST_VALIDATION, Status.REQUEST_FOR_DELETION}
)


class IllegalTransition(AfisError, ValueError):
    """A status change the lifecycle does not allow (nothing was changed)."""


def allowed(current: Status | str) -> frozenset[Status]:
    """The statuses a record in ``current`` may enter.

    Examples
    --------
    >>> sorted(s.value for s in allowed("ADJUDICATE_RECORD"))
    ['DUPLICATE_RECORD', 'PRINT_READY_RECORD']
    """
    return TRANSITIONS[_status(current)]


def check_transition(current: Status | str, new: Status | str) -> None:
    """Raise :class:`IllegalTransition` unless ``current -> new`` is in :data:`TRANSITIONS`."""
    a, b = _status(current), _status(new)
    if b not in TRANSITIONS[a]:
        raise IllegalTransition(f"{a.value} -> {b.value} is not an allowed transition")


def _status(value: object) -> Status:
    if isinstance(value, Status):
        return value
    if not isinstance(value, str):
        raise TypeError(f"a status must be a Status or its name, got {type(value).__name__}")
    try:
        return Status(value)
    except ValueError:
        raise IllegalTransition(f"unknown status {value!r}") from None

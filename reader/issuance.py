"""Issuance mode: a successful pick-up verification moves the record to ``CARD_ISSUED``.

:func:`reader.verify.verify` takes an ``on_issued(nik, verification)`` hook;
:class:`StoreIssuance` is that hook for the data centre's record store
(:class:`enrollment.Store`, the enrolment layer's public API): the one record under the
card's NIK that waits for pick-up (``CARD_SHIPPED``) moves to ``CARD_ISSUED``, with the
officer's station as the actor and the scores in the reason, in the status history. A card
whose record is not waiting for pick-up is refused with :class:`IssuanceError` and nothing
is changed. A "gagal" outcome changes no status: the card goes back to the ministry and the
record stays where it is.

Examples
--------
>>> from enrollment import Store
>>> hook = StoreIssuance(Store("sqlite://"), actor="pickup-desk-1")
>>> hook.actor
'pickup-desk-1'
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from enrollment import Status
from reader.errors import ReaderError

if TYPE_CHECKING:
    from enrollment import Store
    from reader.verify import Verification

__all__ = ["IssuanceError", "StoreIssuance"]

log = logging.getLogger(__name__)


class IssuanceError(ReaderError):
    """The store has no single record of this card waiting for pick-up."""


class StoreIssuance:
    """``on_issued`` hook recording ``CARD_SHIPPED`` -> ``CARD_ISSUED`` on a record store.

    Parameters
    ----------
    store : enrollment.Store
        The record store (SQLite file or PostgreSQL URL).
    actor : str
        Who hands the card over (a station or officer id), kept in the status history.
    """

    def __init__(self, store: Store, *, actor: str) -> None:
        if not isinstance(actor, str) or not actor.strip():
            raise ValueError("issuance needs an actor (the pick-up station or officer)")
        self.store = store
        self.actor = actor

    def __call__(self, nik: str, verification: Verification) -> int:
        """Record the hand-over of the card of ``nik``; returns the record id."""
        from reader.verify import BERHASIL, mask

        if verification.outcome != BERHASIL:
            raise IssuanceError(f"NIK {mask(nik)}: a {verification.outcome!r} card is not issued")
        waiting = self.store.records_with_nik(nik, Status.CARD_SHIPPED)
        if len(waiting) != 1:
            found = self.store.records_with_nik(nik)
            where = ", ".join(f"{i}: {self.store.status(i).value}" for i in found) or "none"
            raise IssuanceError(
                f"NIK {mask(nik)}: expected one record waiting for pick-up (CARD_SHIPPED), "
                f"found {len(waiting)} (records under this NIK: {where})"
            )
        scores = ", ".join(f"{p.name} {s:.4f}" for p, s in verification.best_scores.items())
        rule = (
            f"card FAR {verification.card_far:g}"
            if verification.card_far is not None
            else f"FMR {verification.fmr:g}"
        )
        reason = f"pick-up verification berhasil ({verification.policy}, {rule}; {scores})"
        self.store.transition(
            waiting[0],
            Status.CARD_ISSUED,
            actor=self.actor,
            reason=reason,
            expected=Status.CARD_SHIPPED,
        )
        log.info("issuance: record %d (NIK %s) CARD_ISSUED", waiting[0], mask(nik))
        return waiting[0]

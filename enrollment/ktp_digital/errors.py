"""Errors of KTP Digital.

Examples
--------
>>> issubclass(WalletLocked, WalletError), issubclass(CredentialError, ValueError)
(True, True)
"""

from __future__ import annotations

from afis.errors import AfisError

__all__ = ["CredentialError", "WalletError", "WalletLocked"]


class CredentialError(AfisError, ValueError):
    """A credential, key, trust list or status list is malformed or cannot be used."""


class WalletError(AfisError):
    """The wallet refuses what was asked (wrong PIN, no credential, bad activation)."""


class WalletLocked(WalletError):
    """Too many wrong PINs: the wallet must be activated again."""

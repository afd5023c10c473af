"""The adjudication workstation: a server-rendered web application where trained people decide
the grey-zone de-duplication cases (``ADJUDICATE_RECORD``), and where regions file and
supervisors resolve deletion requests.

Started with ``afis-enrollment workstation serve --db DB``; users are added with
``afis-enrollment workstation add-user NAME --role ROLE --db DB``. Modules:
:mod:`~enrollment.workstation.app` (the Flask application), :mod:`~.users` (roles, logins,
audit trail), :mod:`~.cases` (queue, claims, two-person decisions), :mod:`~.viewer` (finger
images, minutiae, matched pairs) and :mod:`~.reports`.

Examples
--------
>>> from enrollment.store import Store
>>> app = create_app(Store("sqlite://"), secret_key="example")
>>> app.config["SESSION_COOKIE_HTTPONLY"], app.config["SESSION_COOKIE_SAMESITE"]
(True, 'Lax')
"""

from __future__ import annotations

from enrollment.workstation.app import create_app, serve

__all__ = ["create_app", "serve"]

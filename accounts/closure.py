"""What happens to a closed account's data is decided by the erasure workflow, not here.

``ACCOUNTS_CLOSURE_HANDLER`` names a callable ``handler(*, user, actor)`` that runs inside the
closure's transaction; the data-subject-request app registers one that opens an erasure
request for the account.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

ClosureHandler = Callable[..., Any]


def closure_handler() -> ClosureHandler:
    """Return the configured closure handler."""
    path = getattr(settings, "ACCOUNTS_CLOSURE_HANDLER", "accounts.closure.record_only")
    handler: ClosureHandler = import_string(path)
    return handler


def record_only(*, user: Any, actor: Any) -> None:
    """Do nothing more than the closure itself (the audit event already records it)."""

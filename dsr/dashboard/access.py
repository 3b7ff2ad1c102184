"""Who may use the dashboard: active staff holding ``dsr.use_dashboard`` (the Compliance
officer role, and superusers), signed in with a second factor used in this session. Each view
may ask for one more permission (``accounts/roles.py`` says which role has it)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from privacy_portal.admin_site import mfa_redirect
from privacy_portal.permissions import staff_mfa_missing

DASHBOARD_PERMISSION = "dsr.use_dashboard"

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def may_use_dashboard(user: Any) -> bool:
    """Return True if ``user`` may open the dashboard (second factor aside)."""
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(DASHBOARD_PERMISSION)
    )


def officer_required(*permissions: str) -> Callable[[View], View]:
    """Let only dashboard users with ``permissions`` through: anonymous visitors are sent to
    sign in, everyone else without the role gets 403, and staff whose session has not used
    their second factor are sent to use (or set up) it first."""

    def decorator(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user: Any = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not may_use_dashboard(user) or not user.has_perms(permissions):
                raise PermissionDenied
            problem = staff_mfa_missing(request)
            if problem:
                return mfa_redirect(request, problem)
            return view(request, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorator

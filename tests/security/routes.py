"""Every URL pattern of the project, and a concrete URL for each, its path parameters filled
with real objects of the world (``tests.security.conftest.World``).

Parameters are filled by name (``reference`` is customer A's open request, ``pk`` her
address...) unless the pattern's own entry below says what its parameter means. The admin's
``object_id`` is an object of the model the pattern belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import user_pk_to_url_str
from django.apps import apps
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import User


def _walk(
    patterns: list[Any], prefix: str = "", names: tuple[str, ...] = ()
) -> Iterator[tuple[str, str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            namespace = (entry.namespace,) if entry.namespace else ()
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), names + namespace)
        else:
            name = ":".join((*names, entry.name)) if entry.name else ""
            yield prefix + str(entry.pattern), name, entry


def every_pattern() -> list[tuple[str, str, URLPattern]]:
    """Return (route, name, pattern) of every URL pattern, resolved from the URL configuration."""
    return list(_walk(get_resolver().url_patterns))


def pattern_key(route: str, name: str) -> str:
    """Name a pattern: its URL name, or its route when it has none."""
    return name or route


# What a parameter means for one pattern, where it differs from the default below.
def _by_name(world: Any) -> dict[str, dict[str, Any]]:
    a = world.customer
    confirmation = EmailAddress.objects.get(user=world.unverified)
    return {
        "consent:notice_seen": {"pk": world.notice.pk},
        "consent:confirm": {"token": world.confirm_token},
        "consent_public:unsubscribe": {"token": world.unsubscribe_token},
        "dsr:verify": {"token": world.verify_token},
        "dsr:download": {"reference": world.access_done.reference},
        "dsr:download_guest": {"reference": world.guest_done.reference},
        "dsr_api:request": {"reference": world.api_request.reference},
        "dashboard:receipt": {"reference": world.access_done.reference},
        "dashboard:resend_link": {"reference": world.guest_done.reference},
        # One store failed there, and a step still waits for staff: refused, as it should be.
        "dashboard:answer_without_failed": {"reference": world.portability.reference},
        "dashboard:lift_restriction": {"reference": world.restriction_done.reference},
        "dashboard:task_retry": {"pk": world.failed_task.pk},
        "dashboard:task_evidence": {"pk": world.failed_task.pk},
        "dashboard:task_done": {"pk": world.manual_task.pk},
        "dashboard:metrics_csv": {"key": "volume"},
        "account_confirm_email": {"key": EmailConfirmationHMAC(confirmation).key},
        "account_reset_password_from_key": {
            "uidb36": user_pk_to_url_str(a),
            "key": default_token_generator.make_token(a),
        },
        "admin:view_on_site": {
            "content_type_id": ContentType.objects.get_for_model(User).pk,
            "object_id": a.pk,
        },
    }


# Query strings a page needs (the guest's signed link is the way to their download).
QUERY: dict[str, Callable[[Any], str]] = {
    "dsr:download_guest": lambda world: f"?t={world.guest_link}",
}


def _defaults(world: Any) -> dict[str, Any]:
    return {
        "reference": world.erasure.reference,
        "pk": world.address.pk,
        "key": "marketing_sms",
        "version": 1,
        "customer_id": world.customer.pk,
        "job": "redact_requests",
        "app_label": "accounts",
        "url": "nothing-here/",
    }


def admin_object(app_label: str, model_name: str) -> Any:
    """Return the first object the model's admin lists, as a superuser sees it."""
    model = apps.get_model(app_label, model_name)
    request = RequestFactory().get("/admin/")
    request.user = User.objects.filter(is_superuser=True).first()
    return admin.site._registry[model].get_queryset(request).order_by("pk").first()


_ADMIN_MODEL = re.compile(r"^admin/(\w+)/(\w+)/")


class Urls:
    """Concrete URLs of the patterns, for one world."""

    def __init__(self, world: Any) -> None:
        self.world = world
        self.defaults = _defaults(world)
        self.by_name = _by_name(world)
        self._admin: dict[str, Any] = {}

    def values(self, route: str, name: str) -> dict[str, Any]:
        values = dict(self.defaults)
        model = _ADMIN_MODEL.match(route)
        if model and "object_id" in route:
            label = f"{model.group(1)}.{model.group(2)}"
            if label not in self._admin:
                self._admin[label] = admin_object(model.group(1), model.group(2))
            found = self._admin[label]
            assert found is not None, f"the world has no {label} for {route}"
            values["object_id"] = found.pk
        values.update(self.by_name.get(name, {}))
        return values

    def url(self, route: str, name: str, overrides: dict[str, Any] | None = None) -> str:
        """Return a concrete path (and query) for the pattern."""
        values = {**self.values(route, name), **(overrides or {})}

        def fill(match: re.Match[str]) -> str:
            parameter = match.group(1) or match.group(2)
            assert parameter in values, f"no value for <{parameter}> in {route!r}"
            return str(values[parameter])

        path = re.sub(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>", fill, route)
        path = path.replace("^", "").replace("$", "")
        assert not re.search(r"[()<>\\?*+\[\]]", path), f"cannot fill {route!r}: {path!r}"
        query = QUERY.get(name)
        return "/" + path + (query(self.world) if query else "")

"""Who may do what, to which object: one declared table, driven through the real URLs.

Principals: anonymous, customer A (who owns the objects), customer B, a customer whose e-mail
address was never verified, a deactivated customer (with a session from before), support staff,
a compliance officer and a superuser (staff with their second factor used). Someone else's
object answers 404. The dashboard's own table is ``tests/dashboard/test_roles.py``; the admin's
rows are declared per model below. A URL with no row fails ``test_every_url_has_a_row``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.models import Address, User
from consent import services as consent
from consent.models import ApiClient, Purpose
from dsr.models import DataSubjectRequest, State
from privacy_portal.permissions import COMPLIANCE_GROUP, SUPPORT_GROUP
from tests.conftest import login
from tests.dashboard.test_roles import ENDPOINTS as DASHBOARD
from tests.dsr.helpers import file_request
from tests.factories import PASSWORD, AddressFactory, StaffFactory, UserFactory
from tests.security.test_walk import every_pattern

pytestmark = pytest.mark.django_db

PRINCIPALS = (
    "anonymous",
    "customer_a",
    "customer_b",
    "unverified",
    "deactivated",
    "support",
    "compliance",
    "superuser",
)
NOBODY = ("anonymous", "unverified", "deactivated")  # no session that counts
STAFF = ("support", "compliance", "superuser")

# Outcomes: "ok" 2xx; "done" a redirect after the action was allowed; "login" a redirect to
# sign in; "reauth" a redirect to re-authenticate first; "404"; "403"; "denied" 401 or 403 (API).
OK, DONE, LOGIN, REAUTH, NOT_FOUND, FORBIDDEN, DENIED = (
    "ok",
    "done",
    "login",
    "reauth",
    "404",
    "403",
    "denied",
)


def signed_in(owner: str, others: str) -> dict[str, str]:
    """A page of the signed-in person's own: ``owner`` for A, ``others`` for B and staff."""
    row = dict.fromkeys(NOBODY, LOGIN)
    row["customer_a"] = owner
    row.update(dict.fromkeys(("customer_b", *STAFF), others))
    return row


def everyone_but_a(owner: str, others: str) -> dict[str, str]:
    """An object of A's, addressed by its reference: anyone else finds nothing (404)."""
    return {**dict.fromkeys(PRINCIPALS, others), "customer_a": owner}


def everyone(outcome: str) -> dict[str, str]:
    return dict.fromkeys(PRINCIPALS, outcome)


# URL name: (object, action, method, data, outcomes by principal)
MATRIX: dict[str, tuple[str, str, str, dict[str, Any], dict[str, str]]] = {
    # --- profile and addresses ---
    "accounts:profile": ("profile", "read", "get", {}, signed_in(OK, OK)),
    "accounts:data": ("profile", "read", "get", {}, signed_in(OK, OK)),
    "dsr_holdings": ("profile", "read", "get", {}, signed_in(OK, OK)),
    "dsr_holdings_refresh": ("profile", "update", "post", {}, signed_in(DONE, DONE)),
    "accounts:close": ("profile", "delete", "get", {}, signed_in(REAUTH, REAUTH)),
    "accounts:closed": ("profile", "read", "get", {}, everyone(OK)),
    "accounts:address_create": ("address", "create", "get", {}, signed_in(OK, OK)),
    "accounts:address_update": ("address", "update", "get", {}, signed_in(OK, NOT_FOUND)),
    "accounts:address_default": ("address", "update", "post", {}, signed_in(DONE, NOT_FOUND)),
    "accounts:address_delete": ("address", "delete", "post", {}, signed_in(DONE, NOT_FOUND)),
    # --- consent records ---
    "consent:preferences": ("consent record", "list", "get", {}, signed_in(OK, OK)),
    "consent:preference_update": (
        "consent record",
        "update",
        "post",
        {"granted": "off"},
        signed_in(DONE, DONE),
    ),
    "consent:stop_all_marketing": ("consent record", "update", "post", {}, signed_in(DONE, DONE)),
    "consent:history": ("consent record", "list", "get", {}, signed_in(OK, OK)),
    "consent:receipt": ("consent record", "download", "get", {}, signed_in(OK, OK)),
    "consent:notice_seen": (
        "consent record",
        "update",
        "post",
        {},
        signed_in(NOT_FOUND, NOT_FOUND),
    ),
    # A forged or expired link gets a clear page (400), whoever opens it.
    "consent:confirm": ("consent record", "update", "get", {}, everyone("400")),
    "consent:cookies": ("consent record", "read", "get", {}, everyone(OK)),
    "consent:banner_config": ("consent record", "read", "get", {}, everyone(OK)),
    "consent:banner_choice": ("consent record", "update", "get", {}, everyone("405")),
    "consent_public:unsubscribe": ("consent record", "update", "get", {}, everyone("400")),
    # --- requests and export packages ---
    # Without an account: a page explaining the ways to ask (no list).
    "dsr:list": ("request", "list", "get", {}, {**signed_in(OK, OK), **dict.fromkeys(NOBODY, OK)}),
    "dsr:new": ("request", "create", "get", {}, everyone(OK)),
    "dsr:sent": ("request", "read", "get", {}, everyone(OK)),
    "dsr:verify": ("request", "verify", "get", {}, everyone("400")),
    "dsr:detail": ("request", "read", "get", {}, signed_in(OK, NOT_FOUND)),
    "dsr:progress": ("request", "read", "get", {}, everyone_but_a(OK, NOT_FOUND)),
    # The package is not built yet: the owner is told it is not (or no longer) available.
    "dsr:download": ("export package", "download", "get", {}, signed_in("410", NOT_FOUND)),
    "dsr:cancel": ("request", "cancel", "post", {}, everyone_but_a(DONE, NOT_FOUND)),
    "dsr:download_guest": ("export package", "download", "get", {}, everyone(NOT_FOUND)),
    # --- the API: client tokens only, never a session ---
    "consent_api:customer": ("consent record", "read", "get", {}, everyone(DENIED)),
    "consent_api:lookup": ("consent record", "read", "get", {}, everyone(DENIED)),
    "consent_api:events": ("consent record", "create", "post", {}, everyone(DENIED)),
    "consent_api:changes": ("consent record", "list", "get", {}, everyone(DENIED)),
    "consent_api:purposes": ("consent record", "list", "get", {}, everyone(DENIED)),
    "consent_api:sms_inbound": ("consent record", "update", "post", {}, everyone(DENIED)),
    # Signed by the store: an unsigned call is refused as malformed.
    "dsr_api:requests": ("request", "create", "post", {}, everyone(DENIED)),
    "dsr_api:request": ("request", "read", "get", {}, everyone(DENIED)),
    "store_callback": ("store task", "update", "post", {}, everyone("400")),
    # --- public pages ---
    "home": ("site", "read", "get", {}, everyone(OK)),
    "set_language": ("site", "update", "post", {"language": "de"}, everyone(DONE)),
    "healthz": ("site", "read", "get", {}, everyone(OK)),
    "readyz": ("site", "read", "get", {}, everyone(OK)),
    "consent:cookie_policy": ("site", "read", "get", {}, everyone(OK)),
    "consent:cookie_policy_version": ("site", "read", "get", {}, everyone(OK)),
    "consent:statement": ("site", "read", "get", {}, everyone(OK)),
    "consent:statement_version": ("site", "read", "get", {}, everyone(OK)),
    "consent_public:gpc": ("site", "read", "get", {}, everyone(OK)),
    "api_schema": ("site", "read", "get", {}, everyone(OK)),
    "api_docs": ("site", "read", "get", {}, everyone(OK)),
}

# Sign-in, sign-up, password and second-factor flows: open to all, each about the session's own
# account (allauth's views; their limits are in test_rate_limits.py and test_sessions.py).
AUTH_FLOWS = {
    "account_login",
    "account_logout",
    "account_inactive",
    "account_signup",
    "account_reauthenticate",
    "account_email",
    "account_email_verification_sent",
    "account_change_password",
    "account_set_password",
    "account_reset_password",
    "account_confirm_login_code",
    "account_confirm_email",
    "account_reset_password_from_key_done",
    "account_reset_password_from_key",
    "account_reset_password_done",
    "mfa_index",
    "mfa_authenticate",
    "mfa_reauthenticate",
    "mfa_activate_totp",
    "mfa_deactivate_totp",
    "mfa_view_recovery_codes",
    "mfa_generate_recovery_codes",
    "mfa_download_recovery_codes",
}

# The admin, per model: what support and compliance may do there (the superuser: everything
# the model allows at all). list = changelist, read = the change form, add, delete.
ALL = {"list", "read", "add", "delete"}
VIEW = {"list", "read"}
ADMIN: dict[str, dict[str, set[str]]] = {
    "accounts.user": {"support": VIEW, "compliance": VIEW, "superuser": ALL},
    "accounts.address": {"support": VIEW, "compliance": VIEW, "superuser": ALL},
    "account.emailaddress": {"support": set(), "compliance": set(), "superuser": ALL},
    "mfa.authenticator": {"support": set(), "compliance": set(), "superuser": VIEW | {"delete"}},
    "auth.group": {"support": set(), "compliance": set(), "superuser": ALL},
    "audit.auditevent": {"support": set(), "compliance": VIEW, "superuser": VIEW},
    "consent.purpose": {"support": set(), "compliance": set(), "superuser": ALL},
    "consent.cookieservice": {"support": set(), "compliance": set(), "superuser": ALL},
    # Published policy texts are proof of what people saw: never deleted.
    "consent.policyversion": {"support": set(), "compliance": set(), "superuser": VIEW | {"add"}},
    "consent.consentevent": {"support": set(), "compliance": VIEW, "superuser": VIEW},
    "consent.consentstate": {"support": VIEW, "compliance": VIEW, "superuser": VIEW},
    "consent.suppressionentry": {"support": set(), "compliance": VIEW, "superuser": VIEW},
    "consent.apiclient": {"support": set(), "compliance": set(), "superuser": ALL},
    "consent.webhooksubscription": {"support": set(), "compliance": set(), "superuser": ALL},
    "consent.webhookdelivery": {"support": set(), "compliance": VIEW, "superuser": VIEW},
    "dsr.datasubjectrequest": {
        "support": VIEW | {"add"},
        "compliance": VIEW,
        "superuser": VIEW | {"add"},
    },
    "dsr.erasurerecord": {"support": set(), "compliance": VIEW, "superuser": VIEW},
    "dsr.datastore": {"support": set(), "compliance": VIEW, "superuser": ALL},
    "dsr.manualstep": {"support": set(), "compliance": VIEW, "superuser": VIEW},
}
ADMIN_SITE = {
    "admin:index",
    "admin:login",
    "admin:logout",
    "admin:password_change",
    "admin:password_change_done",
    "admin:autocomplete",
    "admin:jsi18n",
    "admin:view_on_site",
    "admin:app_list",
    "admin:consent_consentevent_export",
    "admin:consent_consentstate_record",
    "admin:dsr_datastore_test_connection",
}


def _admin_names() -> set[str]:
    names = set()
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        names |= {f"{prefix}_{view}" for view in ("changelist", "add", "change", "delete")}
        names.add(f"{prefix}_history")
    return names


def test_every_url_has_a_row():
    registered = {f"{m._meta.app_label}.{m._meta.model_name}" for m in admin.site._registry}
    assert registered == set(ADMIN), "declare the admin rights of every registered model"
    declared = (
        set(MATRIX)
        | AUTH_FLOWS
        | {f"dashboard:{name}" for name in DASHBOARD}
        | _admin_names()
        | ADMIN_SITE
    )
    named = {name for _route, name, _pattern in every_pattern() if name}
    assert named - declared == set(), "URLs without a row in the access matrix"
    assert declared - named == set(), "rows for URLs that no longer exist"


# --- the people and their objects ---------------------------------------------------------------


@pytest.fixture
def people(customer: User, other_customer: User) -> dict[str, Client]:
    clients = {"anonymous": Client()}
    clients["customer_a"] = login(Client(), customer)
    clients["customer_b"] = login(Client(), other_customer)
    unverified = UserFactory(email="not.verified@example.com", verified=False)
    attempt = Client()
    response = attempt.post("/accounts/login/", {"login": unverified.email, "password": PASSWORD})
    assert "_auth_user_id" not in attempt.session, response.status_code
    clients["unverified"] = attempt
    deactivated = UserFactory(email="deactivated@example.com")
    clients["deactivated"] = login(Client(), deactivated)
    User.objects.filter(pk=deactivated.pk).update(is_active=False)
    clients["support"] = login(Client(), StaffFactory(group=SUPPORT_GROUP), mfa=True)
    clients["compliance"] = login(Client(), StaffFactory(group=COMPLIANCE_GROUP), mfa=True)
    clients["superuser"] = login(Client(), StaffFactory(is_superuser=True), mfa=True)
    return clients


@pytest.fixture
def objects(customer: User, settings: Any, tmp_path: Any) -> dict[str, Any]:
    """Customer A's objects: an address, an open request, a consent record."""
    settings.DSR_STORAGE_DIR = tmp_path / "dsr"
    address = AddressFactory(user=customer, line1="1 Owner Road")
    request = file_request(type="access", user=customer)
    DataSubjectRequest.objects.filter(pk=request.pk).update(state=State.IN_REVIEW)
    purpose = Purpose.objects.filter(always_on=False, kind="marketing").first()
    assert purpose is not None
    consent.consent_record(
        subject=consent.subject_for_user(customer),
        purpose_key=purpose.key,
        granted=True,
        source="preference_centre",
        actor=customer,
    )
    return {"address": address, "request": request, "purpose": purpose, "customer": customer}


def _url(name: str, objects: dict[str, Any]) -> str:
    request, address = objects["request"], objects["address"]
    by_parameter = {
        "pk": address.pk,
        "reference": request.reference,
        "key": objects["purpose"].key,
        "version": 1,
        "token": "not-a-real-token",
        "customer_id": objects["customer"].pk,
    }
    from django.urls import get_resolver

    for _route, pattern_name, pattern in every_pattern():
        if pattern_name == name:
            names = set(pattern.pattern.converters) | set(pattern.pattern.regex.groupindex)
            break
    resolver_kwargs = {key: by_parameter[key] for key in names if key in by_parameter}
    if name == "consent:notice_seen":
        resolver_kwargs["pk"] = 999999  # nobody's notice
    get_resolver()
    return reverse(name, kwargs=resolver_kwargs)


def _outcome(response: Any) -> str:
    status = response.status_code
    location = response.get("Location", "")
    if status in (401, 403) and response.get("Content-Type", "").startswith("application/"):
        return DENIED
    if status == 302:
        if "/reauthenticate/" in location:
            return REAUTH
        if location.startswith(("/accounts/login/", "/admin/login/")):
            return LOGIN
        return DONE
    if 200 <= status < 300:
        return OK
    return str(status)


def _owner_state(objects: dict[str, Any]) -> tuple[bool, str]:
    request = DataSubjectRequest.objects.get(pk=objects["request"].pk)
    return Address.objects.filter(pk=objects["address"].pk).exists(), request.state


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_the_matrix_holds(principal, people, objects, settings):
    settings.CONSENT_SMS_WEBHOOK_SECRET = "a-configured-secret"
    client = people[principal]
    problems = []
    for name, (_object, _action, method, data, expected) in MATRIX.items():
        before = _owner_state(objects)
        response = getattr(client, method)(_url(name, objects), data)
        got = _outcome(response)
        want = expected[principal]
        if got != want and not (want == DENIED and got in ("401", "403", DENIED)):
            problems.append(f"{principal} {method.upper()} {name}: {got}, expected {want}")
        if principal != "customer_a" and _owner_state(objects) != before:
            problems.append(f"{principal} {method.upper()} {name} changed customer A's objects")
        if principal != "customer_a" and "1 Owner Road" in response.content.decode(errors="ignore"):
            problems.append(f"{principal} {method.upper()} {name} showed customer A's address")
    assert not problems, "\n".join(problems)


def _admin_instance(model: Any, superuser: User) -> Any:
    """The first object the model's admin lists (None if there is none)."""
    label = f"{model._meta.app_label}.{model._meta.model_name}"
    if label == "consent.apiclient" and not ApiClient.objects.exists():
        ApiClient.objects.create(name="Shop", scopes=["consent:read"])
    request = RequestFactory().get("/admin/")
    request.user = superuser
    return admin.site._registry[model].get_queryset(request).order_by("pk").first()


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_the_admin_rows_hold(principal, people, objects):
    client = people[principal]
    superuser = User.objects.filter(is_superuser=True).first()
    problems = []
    for model in admin.site._registry:
        label = f"{model._meta.app_label}.{model._meta.model_name}"
        allowed = ADMIN[label].get(principal, set())
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        instance = _admin_instance(model, superuser)
        urls = {"list": reverse(f"{prefix}_changelist"), "add": reverse(f"{prefix}_add")}
        if instance is not None:
            urls["read"] = reverse(f"{prefix}_change", args=[instance.pk])
            urls["delete"] = reverse(f"{prefix}_delete", args=[instance.pk])
        for action, url in urls.items():
            got = _outcome(client.get(url))
            if principal in ("customer_a", "customer_b", *NOBODY):
                want = {LOGIN, FORBIDDEN}
            elif action in allowed:
                want = {OK}
            else:
                want = {FORBIDDEN}
            if got not in want:
                problems.append(f"{principal} {action} {label}: {got}, expected {sorted(want)}")
    assert not problems, "\n".join(problems)

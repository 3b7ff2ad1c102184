"""Who may do what, to which object: one declared table, driven through the real URLs.

Each row is an object, an action on it, the URL and method that do it, and the outcome for every
principal of ``tests.security.conftest.PRINCIPALS``: anonymous, customer A (who owns the
world's objects), customer B, a customer whose address was never verified, a deactivated
customer with a session from before, a support agent half-way through signing in, a compliance
officer whose session has not used the second factor, support staff, a compliance officer, a
superuser, and one of Inper's systems with an API token.

Every cell runs in a savepoint that is rolled back, so each meets the same world. A cell that is
refused must leave the world exactly as it was (requests, tasks, addresses, accounts, consent,
notes, tokens, stores, the audit trail...); a row with an effect checks that the effect happened
for the principals allowed and for no one else; and no answer to anyone but A and staff shows
A's address or e-mail, nor does any answer to a non-staff member show a staff note.

``test_every_url_pattern_has_a_row`` fails when a URL pattern of the project (admin and
dashboard included) has no row, or a row names a pattern that no longer exists.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.core.cache import cache
from django.db import connection

from accounts.models import Address, User
from consent.models import ApiToken, ConsentState, PolicyAcknowledgement, WebhookSubscription
from dsr.models import DataStore, DataSubjectRequest, RequestNote, State, StoreTask, TaskState
from tests.dashboard.test_roles import ENDPOINTS as DASHBOARD
from tests.security.conftest import OWNER_LINE, PRINCIPALS, World, isolated
from tests.security.routes import Urls, every_pattern, pattern_key

pytestmark = pytest.mark.django_db

# Outcomes: "ok" a 2xx answer; "done" a redirect after the action (or to the next step); "login"
# a redirect to sign in; "reauth" to confirm the password first; "mfa" to use (or set up) the
# second factor; "denied" the API's 401/403; else the status code.
OK, DONE, LOGIN, REAUTH, MFA, DENIED = "ok", "done", "login", "reauth", "mfa", "denied"
NOT_FOUND, FORBIDDEN, GONE, BAD, NOT_ALLOWED = "404", "403", "410", "400", "405"
ALLOWED = (OK, DONE)

# Principals whose session gives them nothing: the pages treat them as anonymous.
NOBODY = ("anonymous", "unverified", "deactivated", "mid_login", "api")
STAFF = ("support", "compliance", "superuser")
SIGNED_IN = ("customer_a", "customer_b", "staff_no_mfa", *STAFF)
# They must never see customer A's address or e-mail address.
OUTSIDERS = (*NOBODY, "customer_b", "staff_no_mfa")


def everyone(outcome: str) -> dict[str, str]:
    return dict.fromkeys(PRINCIPALS, outcome)


def signed_in(a: str, others: str | None = None, nobody: str = LOGIN) -> dict[str, str]:
    """A page about the signed-in person's own account: ``a`` for customer A, ``others`` for
    everyone else signed in (their own account), ``nobody`` for the rest."""
    return {
        **dict.fromkeys(NOBODY, nobody),
        **dict.fromkeys(SIGNED_IN, others or a),
        "customer_a": a,
    }


def own(a: str) -> dict[str, str]:
    """An object of customer A's, by its id: anyone else signed in finds nothing."""
    return signed_in(a, NOT_FOUND)


def only_a(a: str, others: str) -> dict[str, str]:
    """An object of customer A's, by its reference: anyone else finds nothing."""
    return {**everyone(others), "customer_a": a}


def but(base: dict[str, str], **changes: str) -> dict[str, str]:
    return {**base, **changes}


def officers(outcome: str) -> dict[str, str]:
    """The dashboard: compliance officers (and superusers) with their second factor used."""
    return {
        **dict.fromkeys(NOBODY, LOGIN),
        "customer_a": FORBIDDEN,
        "customer_b": FORBIDDEN,
        "staff_no_mfa": MFA,
        "support": FORBIDDEN,
        "compliance": outcome,
        "superuser": outcome,
    }


def system(outcome: str) -> dict[str, str]:
    """The API: a client token only; sessions are no credential there."""
    return {**everyone(DENIED), "api": outcome}


def staff_area(allowed: tuple[str, ...], outcome: str, refused: str = FORBIDDEN) -> dict[str, str]:
    """The admin: staff with their second factor used; the rest are sent to sign in."""
    row = {**everyone(LOGIN), "staff_no_mfa": MFA}
    row.update(dict.fromkeys(STAFF, refused))
    row.update(dict.fromkeys(allowed, outcome))
    return row


Effect = Callable[[World, dict[str, Any]], bool]


@dataclass(frozen=True)
class Row:
    object: str
    action: str
    url: str  # the URL name, or the route of a pattern without one
    method: str
    outcomes: dict[str, str]
    data: Any = None  # a dict, or a function of (world, path values)
    effect: Effect | None = None  # whether the action took effect
    affects: tuple[str, ...] | None = None  # whose cells must take effect (default: allowed)
    query: str | None = None  # replaces the pattern's usual query string
    content_type: str | None = None
    values: Callable[[World], dict[str, Any]] | None = None  # other path values


# --- what the effects look at --------------------------------------------------------------------


def _request(world: World, name: str) -> DataSubjectRequest:
    return DataSubjectRequest.objects.get(pk=getattr(world, name).pk)


def address_changed(world: World, _values: Any) -> bool:
    address = Address.objects.filter(pk=world.address.pk).first()
    return address is None or address.line1 != OWNER_LINE or address.is_default_shipping


def a_changed(field: str, value: Any) -> Effect:
    return lambda world, _v: getattr(User.objects.get(pk=world.customer.pk), field) == value


def a_consent(key: str, granted: bool) -> Effect:
    def check(world: World, _values: Any) -> bool:
        state = ConsentState.objects.filter(
            subject__user=world.customer, subject__visitor_id=None, purpose__key=key
        ).first()
        return state is not None and state.granted is granted

    return check


def request_state(name: str, *states: str) -> Effect:
    return lambda world, _v: _request(world, name).state in states


def a_requests_more(world: World, _values: Any) -> bool:
    # A's four in the world: access_done, restriction_done, portability, erasure.
    return DataSubjectRequest.objects.filter(user=world.customer).count() > 4


def package_downloaded(name: str) -> Effect:
    return lambda world, _v: _request(world, name).package.download_count > 0


def object_gone(label: str) -> Effect:
    def check(world: World, values: dict[str, Any]) -> bool:
        model = next(m for m in admin.site._registry if m._meta.label_lower == label)
        return not model._default_manager.filter(pk=values["object_id"]).exists()

    return check


def task_state(name: str, *states: str) -> Effect:
    return lambda world, _v: StoreTask.objects.get(pk=getattr(world, name).pk).state in states


# --- the table ----------------------------------------------------------------------------------

PROFILE = {
    "first_name": "Mallory",
    "last_name": "Customer",
    "phone": "",
    "date_of_birth": "",
    "country": "DE",
    "preferred_language": "en",
}
ADDRESS = {
    "recipient": "Mallory",
    "line1": "9 Changed Street",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
}

MATRIX: list[Row] = [
    # --- the site ---
    Row("site", "read", "home", "get", everyone(OK)),
    Row("site", "read", "healthz", "get", everyone(OK)),
    Row("site", "read", "readyz", "get", everyone(OK)),
    Row("site", "read", "api_schema", "get", everyone(OK)),
    Row("site", "read", "api_docs", "get", everyone(OK)),
    Row("site", "read", "consent_public:gpc", "get", everyone(OK)),
    Row("policy", "read", "consent:statement", "get", everyone(OK)),
    Row("policy", "read", "consent:statement_version", "get", everyone(OK)),
    Row("policy", "read", "consent:cookie_policy", "get", everyone(OK)),
    Row("policy", "read", "consent:cookie_policy_version", "get", everyone(OK)),
    Row(
        "profile",
        "update language",
        "set_language",
        "post",
        everyone(DONE),
        data={"language": "de"},
        effect=a_changed("preferred_language", "de"),
        affects=("customer_a",),
    ),
    # --- the session's own account (allauth) ---
    Row(
        "session",
        "sign in",
        "account_login",
        "get",
        but(signed_in(DONE, nobody=OK), mid_login=DONE),
    ),
    Row("session", "sign out", "account_logout", "get", signed_in(OK, nobody=DONE)),
    Row("session", "sign out", "account_logout", "post", signed_in(DONE, nobody=DONE)),
    Row("account", "read", "account_inactive", "get", everyone(OK)),
    Row("account", "create", "account_signup", "get", signed_in(DONE, nobody=OK)),
    Row("session", "re-authenticate", "account_reauthenticate", "get", signed_in(OK)),
    Row("e-mail address", "list", "account_email", "get", signed_in(OK)),
    Row("e-mail address", "verify", "account_email_verification_sent", "get", everyone(OK)),
    Row("e-mail address", "verify", "account_confirm_email", "get", everyone(OK)),
    Row("password", "update", "account_change_password", "get", signed_in(OK)),
    Row("password", "update", "account_set_password", "get", signed_in(DONE)),
    Row("password", "reset", "account_reset_password", "get", everyone(OK)),
    Row("password", "reset", "account_reset_password_done", "get", everyone(OK)),
    # A's reset link: whoever holds it may set A's password (it was mailed to A alone).
    Row("password", "reset", "account_reset_password_from_key", "get", everyone(DONE)),
    Row("password", "reset", "account_reset_password_from_key_done", "get", everyone(OK)),
    # Signing in by an e-mailed code is off: there is never a code to confirm.
    Row("session", "sign in", "account_confirm_login_code", "get", signed_in(DONE)),
    Row("second factor", "list", "mfa_index", "get", signed_in(OK)),
    Row(
        "second factor",
        "use",
        "mfa_authenticate",
        "get",
        but(signed_in(DONE), mid_login=OK),
    ),
    Row(
        "second factor",
        "use",
        "mfa_reauthenticate",
        "get",
        signed_in(REAUTH, OK) | {"customer_b": REAUTH},
    ),
    Row(
        "second factor",
        "create",
        "mfa_activate_totp",
        "get",
        signed_in(OK, REAUTH) | {"superuser": DONE},
    ),
    Row(
        "second factor",
        "delete",
        "mfa_deactivate_totp",
        "get",
        signed_in(NOT_FOUND, REAUTH) | {"customer_b": NOT_FOUND, "superuser": OK},
    ),
    Row(
        "recovery codes",
        "read",
        "mfa_view_recovery_codes",
        "get",
        signed_in(NOT_FOUND) | {"superuser": OK},
    ),
    Row(
        "recovery codes",
        "create",
        "mfa_generate_recovery_codes",
        "get",
        signed_in(OK, REAUTH) | {"superuser": OK},
    ),
    Row(
        "recovery codes",
        "download",
        "mfa_download_recovery_codes",
        "get",
        signed_in(NOT_FOUND) | {"superuser": OK},
    ),
    # --- profile, addresses, "my data", closing the account ---
    Row("profile", "read", "accounts:profile", "get", signed_in(OK)),
    Row(
        "profile",
        "update",
        "accounts:profile",
        "post",
        signed_in(DONE),
        data=PROFILE,
        effect=a_changed("first_name", "Mallory"),
        affects=("customer_a",),
    ),
    Row("profile", "read", "accounts:data", "get", signed_in(OK)),
    Row("data held by stores", "read", "dsr_holdings", "get", signed_in(OK)),
    Row("data held by stores", "update", "dsr_holdings_refresh", "post", signed_in(DONE)),
    # Customer A and the superuser confirmed their password a moment ago; the others did not.
    Row("account", "delete", "accounts:close", "get", signed_in(OK, REAUTH) | {"superuser": OK}),
    Row(
        "account",
        "delete",
        "accounts:close",
        "post",
        signed_in(DONE, REAUTH) | {"superuser": DONE},
        data={"understood": "on"},
        effect=a_changed("is_active", False),
        affects=("customer_a",),
    ),
    Row("account", "read", "accounts:closed", "get", everyone(DONE)),
    Row("address", "create", "accounts:address_create", "get", signed_in(OK)),
    Row(
        "address",
        "create",
        "accounts:address_create",
        "post",
        signed_in(DONE),
        data=ADDRESS,
        effect=lambda world, _v: world.customer.addresses.count() > 1,
        affects=("customer_a",),
    ),
    Row("address", "read", "accounts:address_update", "get", own(OK)),
    Row(
        "address",
        "update",
        "accounts:address_update",
        "post",
        own(DONE),
        data=ADDRESS,
        effect=address_changed,
    ),
    Row("address", "delete", "accounts:address_delete", "get", own(OK)),
    Row(
        "address",
        "delete",
        "accounts:address_delete",
        "post",
        own(DONE),
        effect=address_changed,
    ),
    Row(
        "address",
        "make default",
        "accounts:address_default",
        "post",
        own(DONE),
        effect=address_changed,
    ),
    # --- consent records, history, receipt ---
    Row("consent record", "list", "consent:preferences", "get", signed_in(OK)),
    Row(
        "consent record",
        "update",
        "consent:preference_update",
        "post",
        signed_in(DONE),
        data={"granted": "off"},
        effect=a_consent("marketing_sms", False),
        affects=("customer_a",),
    ),
    Row(
        "consent record",
        "withdraw all marketing",
        "consent:stop_all_marketing",
        "post",
        signed_in(DONE),
        effect=a_consent("marketing_sms", False),
        affects=("customer_a",),
    ),
    Row("consent history", "list", "consent:history", "get", signed_in(OK)),
    Row("consent receipt", "download", "consent:receipt", "get", signed_in(OK)),
    Row(
        "policy notice",
        "dismiss",
        "consent:notice_seen",
        "post",
        signed_in(DONE),
        effect=lambda world, _v: PolicyAcknowledgement.objects.filter(
            user=world.customer, policy_version=world.notice
        ).exists(),
        affects=("customer_a",),
    ),
    # A's double opt-in link: the e-mailed link is the proof, whoever opens it.
    Row("consent record", "confirm", "consent:confirm", "get", everyone(OK)),
    Row(
        "consent record",
        "confirm",
        "consent:confirm",
        "post",
        everyone(OK),
        effect=a_consent("marketing_email", True),
    ),
    Row("cookie choice", "read", "consent:cookies", "get", everyone(OK)),
    Row(
        "cookie choice",
        "update",
        "consent:cookies",
        "post",
        everyone(DONE),
        data={"action": "reject_all"},
        effect=a_consent("analytics", False),
        affects=("customer_a",),
    ),
    Row("cookie choice", "read", "consent:opt_out_sharing", "get", everyone(OK)),
    Row(
        "cookie choice",
        "update",
        "consent:opt_out_sharing",
        "post",
        everyone(DONE),
        effect=a_consent("marketing", False),
        affects=("customer_a",),
    ),
    Row("cookie choice", "read", "consent:banner_config", "get", everyone(OK)),
    Row(
        "cookie choice",
        "update",
        "consent:banner_choice",
        "post",
        everyone(OK),
        data={"choices": {"analytics": False}},
        content_type="application/json",
    ),
    # A's one-click unsubscribe link (RFC 8058): the link is the proof.
    Row("consent record", "read", "consent_public:unsubscribe", "get", everyone(OK)),
    Row(
        "consent record",
        "withdraw",
        "consent_public:unsubscribe",
        "post",
        everyone(OK),
        effect=a_consent("marketing_sms", False),
    ),
    # --- data-subject requests and their packages ---
    Row("request", "list", "dsr:list", "get", everyone(OK)),
    Row("request", "create", "dsr:new", "get", everyone(OK)),
    Row(
        "request",
        "create",
        "dsr:new",
        "post",
        # Signed in, a copy of one's data needs the password again (A gave it a moment ago).
        signed_in(DONE, REAUTH, nobody=DONE) | {"superuser": DONE},
        data={"type": "access", "email": "someone.else@example.com"},
        effect=a_requests_more,
        affects=("customer_a",),
    ),
    Row("request", "read", "dsr:sent", "get", everyone(OK)),
    # A guest's confirmation link: the e-mailed link is the proof, whoever opens it.
    Row("request", "verify", "dsr:verify", "get", everyone(OK)),
    Row(
        "request",
        "verify",
        "dsr:verify",
        "post",
        everyone(DONE),
        # No order number: the request waits for an officer (one that matches nothing is
        # asked again first: tests/dsr/test_views.py).
        data={"order_number": ""},
        effect=request_state("guest_pending", State.IN_REVIEW),
    ),
    Row("request", "read", "dsr:detail", "get", own(OK)),
    Row("request", "read", "dsr:progress", "get", only_a(OK, NOT_FOUND)),
    Row(
        "request",
        "cancel",
        "dsr:cancel",
        "post",
        only_a(DONE, NOT_FOUND),
        effect=request_state("erasure", State.CANCELLED),
    ),
    Row(
        "export package",
        "download",
        "dsr:download",
        "get",
        own(OK),
        effect=package_downloaded("access_done"),
    ),
    # A guest's download: the signed link, then a one-time code sent to the guest's address.
    Row("export package", "read", "dsr:download_guest", "get", everyone(OK)),
    Row("export package", "read", "dsr:download_guest", "get", everyone(NOT_FOUND), query=""),
    Row(
        "export package",
        "send code",
        "dsr:download_guest",
        "post",
        everyone(DONE),
        data=lambda world, _v: {"send": "1", "t": world.guest_link},
    ),
    Row(
        "export package",
        "download",
        "dsr:download_guest",
        "post",
        everyone(BAD),
        data=lambda world, _v: {"code": "00000000", "t": world.guest_link},
        effect=package_downloaded("guest_done"),
    ),
    # --- the API: a client token with its scopes, never a session ---
    Row("consent record", "read", "consent_api:customer", "get", system(OK)),
    Row(
        "consent record",
        "read",
        "consent_api:lookup",
        "post",
        system(OK),
        data=lambda world, _v: {"email": world.customer.email},
        content_type="application/json",
    ),
    Row(
        "consent record",
        "create",
        "consent_api:events",
        "post",
        system(OK),
        data=lambda world, _v: {
            "customer_id": world.customer.pk,
            "purpose": "marketing_sms",
            "granted": False,
        },
        content_type="application/json",
        effect=a_consent("marketing_sms", False),
    ),
    Row("consent record", "list", "consent_api:changes", "get", system(OK)),
    Row("purpose", "list", "consent_api:purposes", "get", system(OK)),
    # The SMS provider's webhook: its signature, not a token or a session.
    Row(
        "consent record",
        "withdraw",
        "consent_api:sms_inbound",
        "post",
        everyone(DENIED),
        data={"from": "+4915112345678", "body": "STOP", "message_id": "m1"},
        content_type="application/json",
    ),
    Row(
        "request",
        "create",
        "dsr_api:requests",
        "post",
        system(OK),
        data={"type": "objection", "email": "api.other@example.com", "purposes": ["statistics"]},
        content_type="application/json",
    ),
    Row("request", "read", "dsr_api:request", "get", system(OK)),
    # A's request, filed on the portal: the API finds only what its client filed.
    Row(
        "request",
        "read filed elsewhere",
        "dsr_api:request",
        "get",
        system(NOT_FOUND),
        values=lambda world: {"reference": world.erasure.reference},
    ),
    # A data store's callback: its HMAC signature over body and timestamp.
    Row(
        "store task",
        "update",
        "store_callback",
        "post",
        everyone(BAD),
        data={"task": 1, "status": "done"},
        content_type="application/json",
    ),
]


# --- the dashboard: every action of test_roles, with these principals -------------------------

DASHBOARD_ROWS = {  # name: (object, action)
    "queue": ("request", "list"),
    "search": ("request", "search"),
    "request": ("request", "read"),
    "progress": ("request", "read progress"),
    "receipt": ("erasure receipt", "read"),
    "assign": ("request", "assign"),
    "verify": ("request", "verify"),
    "approve": ("request", "approve"),
    "reject": ("request", "reject"),
    "extend": ("request", "extend"),
    "lift_restriction": ("restriction", "lift"),
    "cancel": ("request", "cancel"),
    "note": ("staff note", "create"),
    "resend_link": ("download link", "send again"),
    "answer_without_failed": ("request", "answer without a failed step"),
    "preview": ("request", "preview"),
    "preview_panel": ("request", "read preview"),
    "task_retry": ("store task", "retry"),
    "task_done": ("manual step", "complete"),
    "task_evidence": ("manual step", "download evidence"),
    "metrics": ("metrics", "read"),
    "metrics_csv": ("metrics", "download"),
    "yearly": ("metrics", "read"),
    "yearly_csv": ("metrics", "download"),
    "audit": ("audit event", "list"),
    "audit_csv": ("audit event", "download"),
    "audit_verify": ("audit event", "verify"),
    "processing": ("data-store configuration", "read"),
    "processing_csv": ("data-store configuration", "download"),
    "retention": ("retention job", "list"),
    "retention_dry_run": ("retention job", "dry run"),
}
DASHBOARD_EFFECTS: dict[str, Effect] = {
    "assign": lambda world, _v: _request(world, "erasure").assignee_id is not None,
    "approve": request_state("erasure", State.APPROVED, State.RUNNING),
    "reject": request_state("erasure", State.REJECTED),
    "extend": lambda world, _v: _request(world, "erasure").extended_at is not None,
    "lift_restriction": lambda world, _v: (
        _request(world, "restriction_done").restriction_lift_started_at is not None
    ),
    "cancel": request_state("erasure", State.CANCELLED),
    "note": lambda world, _v: RequestNote.objects.filter(request=world.erasure).count() > 1,
    "task_retry": task_state("failed_task", TaskState.QUEUED, TaskState.RETRYING),
    "task_done": task_state("manual_task", TaskState.SUCCEEDED),
}


def _dashboard_data(name: str) -> Any:
    if name == "task_done":
        # A copy step: nothing found there, as the officer says.
        return lambda world, _v: {
            f"done-{world.manual_task.pk}-note": "Done by hand",
            f"done-{world.manual_task.pk}-nothing_held": "on",
        }
    return DASHBOARD[name][2]


MATRIX += [
    Row(
        *DASHBOARD_ROWS[name],
        f"dashboard:{name}",
        method,
        officers(OK if status == 200 else DONE),
        data=_dashboard_data(name),
        effect=DASHBOARD_EFFECTS.get(name),
    )
    for name, (method, _argument, _data, status) in sorted(DASHBOARD.items())
]


# --- the admin ------------------------------------------------------------------------------------

S, C, SU = ("support",), ("compliance",), ("superuser",)
EVERY_STAFF = (*S, *C, *SU)


def admin_rows(
    label: str,
    object: str,
    *,
    view: tuple[str, ...],
    add: tuple[str, ...] = (),
    change: tuple[str, ...] = (),
    delete: tuple[str, ...] = (),
    add_outcome: str = OK,
    change_outcome: str = OK,
    delete_outcome: str = DONE,
    deleted: bool = True,
    generic_update: bool = True,
) -> list[Row]:
    """The rows of one model's admin: list, read, history, add, update, delete, and Django's
    old URL of an object (a redirect to its page)."""
    app, model = label.split(".")
    prefix = f"admin:{app}_{model}"
    rows = [
        Row(object, "list", f"{prefix}_changelist", "get", staff_area(view, OK)),
        Row(object, "read", f"{prefix}_change", "get", staff_area(view, OK)),
        Row(object, "read history", f"{prefix}_history", "get", staff_area(view, OK)),
        Row(object, "create", f"{prefix}_add", "post", staff_area(add, add_outcome), data={}),
        Row(
            object,
            "delete",
            f"{prefix}_delete",
            "post",
            staff_area(delete, delete_outcome),
            data={"post": "yes"},
            effect=object_gone(label),
            affects=None if deleted else (),
        ),
        Row(
            object,
            "read",
            f"admin/{app}/{model}/<path:object_id>/",
            "get",
            staff_area(EVERY_STAFF, DONE),
        ),
    ]
    if generic_update:
        # An empty form: the door is open (the form's errors) or shut (403).
        update = staff_area(change, change_outcome)
        rows.append(Row(object, "update", f"{prefix}_change", "post", update, data={}))
    return rows


ADMIN_MODELS = [
    *admin_rows(
        "accounts.user", "customer account", view=EVERY_STAFF, add=SU, change=C + SU, delete=SU
    ),
    *admin_rows(
        "accounts.address", "address", view=EVERY_STAFF, add=C + SU, change=C + SU, delete=C + SU
    ),
    *admin_rows("account.emailaddress", "e-mail address", view=SU, add=SU, change=SU, delete=SU),
    *admin_rows("mfa.authenticator", "second factor", view=SU, delete=SU),
    *admin_rows("auth.group", "staff role", view=SU, add=SU, change=SU, delete=SU),
    *admin_rows("audit.auditevent", "audit event", view=C + SU),
    # The world's purpose has consent records, its store has tasks: Django's page names what
    # protects them, and nothing is deleted.
    *admin_rows(
        "consent.purpose",
        "purpose",
        view=SU,
        add=SU,
        change=SU,
        delete=SU,
        delete_outcome=OK,
        deleted=False,
    ),
    *admin_rows("consent.cookieservice", "cookie service", view=SU, add=SU, change=SU, delete=SU),
    # Published policy texts are proof of what people saw: never changed or deleted.
    *admin_rows("consent.policyversion", "policy version", view=SU, add=SU),
    *admin_rows("consent.consentevent", "consent record", view=C + SU),
    *admin_rows("consent.consentstate", "consent record", view=EVERY_STAFF),
    *admin_rows("consent.suppressionentry", "suppressed address", view=C + SU),
    # A client's webhook deliveries are read-only records: Django refuses a deletion that
    # would take them along (403), even for a superuser. Clients are deactivated instead.
    *admin_rows(
        "consent.apiclient",
        "consent API client",
        view=SU,
        add=SU,
        change=SU,
        delete=SU,
        delete_outcome=FORBIDDEN,
        deleted=False,
    ),
    *admin_rows(
        "consent.webhooksubscription",
        "webhook subscription",
        view=SU,
        add=SU,
        change=SU,
        delete=SU,
        delete_outcome=FORBIDDEN,
        deleted=False,
    ),
    *admin_rows("consent.webhookdelivery", "webhook delivery", view=C + SU),
    *admin_rows("dsr.datasubjectrequest", "request", view=EVERY_STAFF, add=S + SU),
    *admin_rows("dsr.erasurerecord", "erasure record", view=C + SU),
    *admin_rows(
        "dsr.datastore",
        "data-store configuration",
        view=C + SU,
        add=SU,
        change=SU,
        delete=SU,
        delete_outcome=OK,
        deleted=False,
    ),
    # Completing a step is its "update": the officers of the step's group (see below).
    *admin_rows("dsr.manualstep", "manual step", view=C + SU, generic_update=False),
]
ADMIN_SITE = [
    Row("admin", "read", "admin:index", "get", staff_area(EVERY_STAFF, OK)),
    Row("admin", "read", "admin:app_list", "get", staff_area(EVERY_STAFF, OK)),
    Row("admin", "read", "admin:jsi18n", "get", staff_area(EVERY_STAFF, OK)),
    Row("admin", "read", "admin:autocomplete", "get", staff_area((), OK)),
    Row("admin", "read", "admin:view_on_site", "get", staff_area((), OK, refused=NOT_FOUND)),
    Row("admin", "read", "admin/(?P<url>.*)$", "get", staff_area((), OK, refused=NOT_FOUND)),
    Row(
        "session",
        "sign in",
        "admin:login",
        "get",
        but(everyone(LOGIN), customer_a=FORBIDDEN, customer_b=FORBIDDEN)
        | dict.fromkeys(("staff_no_mfa", *STAFF), DONE),
    ),
    # Django's admin sends anyone signed out, or not staff, to its index (and so to sign in).
    Row("session", "sign out", "admin:logout", "post", but(everyone(DONE), staff_no_mfa=MFA)),
    # Through allauth's form (re-authentication, rate limit, audit trail).
    Row("password", "update", "admin:password_change", "get", staff_area(EVERY_STAFF, DONE)),
    Row("password", "update", "admin:password_change_done", "get", staff_area(EVERY_STAFF, OK)),
    Row(
        "consent record",
        "download",
        "admin:consent_consentevent_export",
        "get",
        staff_area(C + SU, OK),
    ),
    Row(
        "consent record",
        "record for a customer",
        "admin:consent_consentstate_record",
        "get",
        staff_area(S + SU, OK),
    ),
    Row(
        "suppression list",
        "look up one address",
        "admin:consent_consentstate_suppression_check",
        "get",
        staff_area(S + SU, OK),
    ),
    Row(
        "data-store configuration",
        "test connection",
        "admin:dsr_datastore_test_connection",
        "post",
        staff_area(SU, DONE),
    ),
    Row(
        "data-store configuration",
        "test connection",
        "admin:dsr_datastore_changelist",
        "post",
        # An officer (who may only look) gets the list again: the action is not offered.
        staff_area(SU, DONE) | {"compliance": OK},
        data=lambda world, _v: _action("test_connection", DataStore.objects.get(key="portal").pk),
        effect=lambda world, _v: DataStore.objects.filter(last_checked_at__isnull=False).exists(),
        affects=SU,
    ),
    Row(
        "consent API client",
        "issue token",
        "admin:consent_apiclient_changelist",
        "post",
        staff_area(SU, DONE),
        data=lambda world, _v: _action("issue_token", world.api_client.pk),
        effect=lambda world, _v: ApiToken.objects.filter(client=world.api_client).count() > 1,
    ),
    Row(
        "consent API client",
        "revoke tokens",
        "admin:consent_apiclient_changelist",
        "post",
        staff_area(SU, DONE),
        data=lambda world, _v: _action("revoke_tokens", world.api_client.pk),
        effect=lambda world, _v: ApiToken.objects.filter(
            client=world.api_client, revoked_at__isnull=False
        ).exists(),
    ),
    Row(
        "webhook subscription",
        "rotate secret",
        "admin:consent_webhooksubscription_changelist",
        "post",
        staff_area(SU, DONE),
        data=lambda world, _v: _action("rotate_secret", world.subscription.pk),
        effect=lambda world, _v: (
            bytes(WebhookSubscription.objects.get(pk=world.subscription.pk).secret_encrypted)
            != b"x"
        ),
    ),
    Row(
        "manual step",
        "complete",
        "admin:dsr_manualstep_change",
        "post",
        staff_area(C + SU, DONE),
        data={"note": "Searched the provider's dashboard.", "nothing_held": "on"},
        effect=task_state("manual_task", TaskState.SUCCEEDED),
    ),
]
MATRIX += ADMIN_MODELS + ADMIN_SITE


def _action(name: str, pk: int) -> dict[str, Any]:
    return {"action": name, "_selected_action": [pk], "index": 0}


# --- the tests ------------------------------------------------------------------------------------


def test_every_url_pattern_has_a_row():
    patterns = {pattern_key(route, name) for route, name, _p in every_pattern()}
    rows = {row.url for row in MATRIX}
    assert patterns - rows == set(), "URL patterns without a row in the access matrix"
    assert rows - patterns == set(), "rows for URL patterns that no longer exist"
    for row in MATRIX:
        assert set(row.outcomes) == set(PRINCIPALS), (row.url, row.action)
    registered = {model._meta.label_lower for model in admin.site._registry}
    declared = {row.url.removeprefix("admin:").rsplit("_", 1)[0] for row in ADMIN_MODELS}
    assert {label.replace(".", "_") for label in registered} <= declared


# Every table a refused action could touch, in one query (PostgreSQL).
FINGERPRINT = """
SELECT (SELECT count(*) FROM audit_auditevent), md5(concat_ws('|',
  (SELECT string_agg(concat_ws(',', id, state, updated_at, assignee_id, extended_at, verified_at,
     held_reason, verification_nonce, redacted_at), ';' ORDER BY id) FROM dsr_datasubjectrequest),
  (SELECT string_agg(concat_ws(',', id, state, attempts), ';' ORDER BY id) FROM dsr_storetask),
  (SELECT string_agg(concat_ws(',', id, download_count, purged_at), ';' ORDER BY id)
     FROM dsr_exportpackage),
  (SELECT count(*) FROM dsr_requestnote),
  (SELECT string_agg(concat_ws(',', id, config::text, enabled, last_checked_at), ';' ORDER BY id)
     FROM dsr_datastore),
  (SELECT count(*) FROM dsr_erasurerecord),
  (SELECT string_agg(concat_ws(',', id, user_id, line1, is_default_shipping), ';' ORDER BY id)
     FROM accounts_address),
  (SELECT string_agg(concat_ws(',', id, email, first_name, last_name, is_active, is_staff,
     is_superuser, preferred_language, password, session_generation, phone, closed_at,
     credentials_changed_at), ';' ORDER BY id)
     FROM accounts_user),
  (SELECT string_agg(concat_ws(',', id, email, verified, "primary"), ';' ORDER BY id)
     FROM account_emailaddress),
  (SELECT string_agg(concat_ws(',', id, type, data::text), ';' ORDER BY id) FROM mfa_authenticator),
  (SELECT count(*) FROM auth_group),
  (SELECT count(*) FROM accounts_user_groups),
  (SELECT count(*) FROM consent_consentevent),
  (SELECT count(*) FROM consent_consentsubject),
  (SELECT string_agg(concat_ws(',', id, confirmed_at, cancelled_at), ';' ORDER BY id)
     FROM consent_pendingconfirmation),
  (SELECT count(*) FROM consent_usedtoken),
  (SELECT count(*) FROM consent_policyacknowledgement),
  (SELECT count(*) FROM consent_policyversion),
  (SELECT count(*) FROM consent_suppressionentry),
  (SELECT string_agg(concat_ws(',', id, name, scopes::text, is_active), ';' ORDER BY id)
     FROM consent_apiclient),
  (SELECT string_agg(concat_ws(',', id, revoked_at), ';' ORDER BY id) FROM consent_apitoken),
  (SELECT string_agg(concat_ws(',', id, url, md5(secret_encrypted), is_active), ';' ORDER BY id)
     FROM consent_webhooksubscription),
  (SELECT count(*) FROM consent_webhookdelivery),
  (SELECT string_agg(concat_ws(',', id, key, is_active, double_opt_in, current_version_id),
     ';' ORDER BY id) FROM consent_purpose),
  (SELECT count(*) FROM consent_purposeversion),
  (SELECT count(*) FROM consent_cookieservice),
  (SELECT count(*) FROM dsr_retentionjobrun)
))
"""


def fingerprint() -> tuple[int, str]:
    """Return the number of audit events, and a hash of everything else."""
    with connection.cursor() as cursor:
        cursor.execute(FINGERPRINT)
        audit, rest = cursor.fetchone()
        return int(audit), str(rest)


def outcome_of(response: Any) -> str:
    status = response.status_code
    location = response.get("Location", "")
    if status in (401, 403) and response.get("Content-Type", "").startswith("application/json"):
        return DENIED
    if status in (301, 302, 303):
        if location.startswith("/accounts/reauthenticate/"):
            return REAUTH
        if location.startswith(("/accounts/2fa/reauthenticate/?", "/accounts/2fa/totp/activate/?")):
            return MFA
        if location.startswith(("/accounts/login/", "/admin/login/")):
            return LOGIN
        return DONE
    if 200 <= status < 300:
        return OK
    return str(status)


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="ignore")
    return response.content.decode(errors="ignore")


@pytest.fixture
def relaxed(settings: Any) -> None:
    """Rate limits out of the way (each has its own test in test_rate_limits.py)."""
    settings.DSR_INTAKE_RATE = "100000/h"
    settings.DSR_INTAKE_RATE_PER_EMAIL = "100000/h"
    settings.DSR_VERIFY_RATE = "100000/h"
    settings.DSR_DOWNLOAD_CODE_RATE = "100000/h"
    settings.CONSENT_RATE_BANNER = "100000/m"
    settings.CONSENT_RATE_UNSUBSCRIBE = "100000/m"
    settings.CONSENT_SMS_WEBHOOK_SECRET = "a-configured-secret"
    settings.ACCOUNT_RATE_LIMITS = False


def test_the_matrix_holds(postgres, relaxed, unrecorded_templates, world, people, figure):
    urls = Urls(world)
    patterns = {pattern_key(route, name): (route, name) for route, name, _p in every_pattern()}
    baseline = fingerprint()
    secrets = {"note": world.note.body, "owner": OWNER_LINE, "email": world.customer.email}
    problems = []
    cells = 0
    for row in MATRIX:
        route, name = patterns[row.url]
        values = urls.values(route, name)
        path = urls.url(route, name, row.values(world) if row.values else None)
        if row.query is not None:
            path = path.split("?")[0] + row.query
        data = row.data(world, values) if callable(row.data) else row.data
        cache.clear()
        for principal in PRINCIPALS:
            client = people[principal]
            cells += 1
            where = f"{principal} {row.method.upper()} {path} ({row.object}: {row.action})"
            with isolated(client):
                kwargs: dict[str, Any] = {}
                if row.content_type:
                    kwargs = {"content_type": row.content_type}
                    data_sent: Any = json.dumps(data or {})
                else:
                    data_sent = data if data is not None else {}
                response = getattr(client, row.method)(path, data_sent, **kwargs)
                got, want = outcome_of(response), row.outcomes[principal]
                body = _body(response)
                if got != want:
                    problems.append(f"{where}: {got}, expected {want}")
                if got not in ALLOWED and fingerprint() != baseline:
                    problems.append(f"{where}: refused ({got}) but changed the world")
                if row.effect is not None:
                    affects = (
                        row.affects
                        if row.affects is not None
                        else tuple(p for p, outcome in row.outcomes.items() if outcome in ALLOWED)
                    )
                    happened = row.effect(world, values)
                    if happened != (principal in affects):
                        problems.append(f"{where}: effect {'seen' if happened else 'missing'}")
                if principal in OUTSIDERS and (
                    secrets["owner"] in body or secrets["email"] in body
                ):
                    problems.append(f"{where}: showed customer A's data")
                if principal not in STAFF and secrets["note"] in body:
                    problems.append(f"{where}: showed a staff note")
    figure("cells of the access matrix (rows by principals)", cells, len(problems))
    assert not problems, f"{len(problems)} of {cells} cells:\n" + "\n".join(problems)

"""The Django admin for staff, behind allauth's sign-in and a second factor."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from allauth.account.decorators import secure_admin_login
from django.contrib import admin, messages
from django.contrib.admin import SimpleListFilter
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import SEARCH_VAR, ChangeList
from django.contrib.admin.widgets import url_params_from_lookup_dict
from django.core.exceptions import FieldDoesNotExist
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .audit.services import audit_record
from .dbutils import parsed_id
from .permissions import staff_mfa_missing


def mfa_redirect(request: HttpRequest, problem: str) -> HttpResponse:
    """Send a staff member to set up, or to use, their second factor first."""
    if problem == "setup":
        messages.warning(
            request,
            _("Staff accounts must use two-factor authentication. Please set it up to continue."),
        )
        target = reverse("mfa_activate_totp")
    else:
        messages.info(request, _("Please confirm it is you with your authenticator app."))
        target = reverse("mfa_reauthenticate")
    return HttpResponseRedirect(f"{target}?{urlencode({'next': request.get_full_path()})}")


class PortalAdminSite(admin.AdminSite):
    site_header = gettext_lazy("Inper Privacy Portal: staff")
    site_title = gettext_lazy("Inper staff")
    index_title = gettext_lazy("Customers, requests and choices")
    enable_nav_sidebar = False

    def admin_view(self, view: Callable[..., Any], cacheable: bool = False) -> Any:
        inner = super().admin_view(view, cacheable)

        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            user: Any = request.user
            if user.is_authenticated and user.is_active and user.is_staff:
                problem = staff_mfa_missing(request)
                if problem:
                    return mfa_redirect(request, problem)
            return inner(request, *args, **kwargs)

        guarded.admin_site = self  # type: ignore[attr-defined]
        return guarded

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """Sign in through allauth (rate limits, second factor) rather than Django's form."""
        return secure_admin_login(super().login)(request, extra_context)  # type: ignore[no-any-return]

    def password_change(self, request: HttpRequest, extra_context: Any = None) -> Any:
        """Change the password through allauth too: its rate limit on the old password, the
        audit trail and the hold of sensitive requests all hang on allauth's form."""
        return HttpResponseRedirect(reverse("account_change_password"))


#: The parameter that names a search kept in the session; the session's key of them.
KEPT_SEARCH_VAR = "s"
_SEARCHES = "admin_searches"
#: How many searches a session keeps (the oldest go first).
_SEARCHES_KEPT = 20


def search_keep(request: HttpRequest, term: str) -> str:
    """Keep ``term`` in the session; return the key that names it."""
    kept: dict[str, str] = dict(request.session.get(_SEARCHES, {}))
    for key, value in kept.items():
        if value == term:
            return key
    key = secrets.token_urlsafe(6)
    kept[key] = term
    request.session[_SEARCHES] = dict(list(kept.items())[-_SEARCHES_KEPT:])
    return key


def search_kept(request: HttpRequest, key: str) -> str:
    """Return the term the session keeps under ``key`` ("" if none): a link between staff
    pages names an address by such a key, never by the address itself."""
    return str(request.session.get(_SEARCHES, {}).get(key, "")) if key else ""


def _naming_search(params: QueryDict, key: str) -> str:
    """Return ``params`` URL-encoded with the search named by ``key`` instead of typed."""
    params = params.copy()
    params.pop(SEARCH_VAR, None)
    params[KEPT_SEARCH_VAR] = key
    return params.urlencode()


class KeptSearchChangeList(ChangeList):
    """A list searched by a kept search: its links (pages, sorting, filters) name the search
    by its key, as its own address does, not by the term. Mixed into the list's own class."""

    kept_search: str | None = None

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        # The term stays the list's ``query`` (what it searched, and what the search box
        # shows); the parameters its links are made of name the search by its key.
        self.params.pop(SEARCH_VAR, None)
        self.filter_params.pop(SEARCH_VAR, None)
        self.kept_search = request.kept_search  # type: ignore[attr-defined]
        # The links Django worked out while it built the list.
        for name in ("remove_facet_link", "add_facet_link", "clear_all_filters_qs"):
            query = getattr(self, name, None)
            if query is not None:
                setattr(self, name, self._naming_the_search(query))

    def get_query_string(self, new_params: Any = None, remove: Any = None) -> str:
        query: str = super().get_query_string(new_params, remove)
        return self._naming_the_search(query) if self.kept_search else query

    def _naming_the_search(self, query: str) -> str:
        return f"?{_naming_search(QueryDict(query.lstrip('?')), self.kept_search or '')}"


def object_pk(object_id: str) -> int:
    """Return the primary key in an admin page's address, or raise Http404 (``abc``, ``💩``:
    not found, as Django's own admin pages answer, not a server error)."""
    pk = parsed_id(object_id)
    if pk is None:
        raise Http404
    return pk


def changed_fields(message: Any) -> list[str]:
    """Return the field names in an admin change message (Django's JSON structure)."""
    fields: list[str] = []
    for entry in message if isinstance(message, list) else []:
        for detail in entry.values():
            fields.extend(str(name) for name in detail.get("fields", []))
    return sorted(set(fields))


class PortalModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The base of the portal's model admins: a filter value Django's list cannot hold (a date
    hierarchy year of -99999999999999999999) is a bad filter, answered as Django answers any
    other (the list without it, ``?e=1``), not a server error; and a list filters only by what
    it offers to filter by."""

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        """Allow a lookup in the list's address only on a field the list offers a filter (or
        its date hierarchy) for. Django allows any lookup on the model's own fields, which,
        with the count of matches shown, reads any column a character at a time (a password
        hash by ``?password__startswith=``), whatever the page shows."""
        if not super().lookup_allowed(lookup, value, request):
            return False
        for fk_lookup in self.model._meta.related_fkey_lookups:
            # What a raw-id popup adds for its field's ``limit_choices_to``.
            lookups = fk_lookup() if callable(fk_lookup) else fk_lookup
            if (lookup, value) in url_params_from_lookup_dict(lookups).items():
                return True
        field = lookup.split(LOOKUP_SEP)[0]
        try:
            self.model._meta.get_field(field)
        except FieldDoesNotExist:
            return True  # a filter's own parameter, or nothing Django will filter by
        return field in self._filtered_fields(request)

    def _filtered_fields(self, request: HttpRequest) -> set[str]:
        """Return the model's fields the list's filters and date hierarchy filter by."""
        offered: set[str] = {self.date_hierarchy} if self.date_hierarchy else set()
        for item in self.get_list_filter(request):
            if isinstance(item, type) and issubclass(item, SimpleListFilter):
                offered.add(str(item.parameter_name))
            else:
                path = item[0] if isinstance(item, list | tuple) else item
                offered.add(str(path).split(LOOKUP_SEP)[0])
        return offered

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        try:
            return super().get_changelist_instance(request)
        except OverflowError as error:  # Django catches only ValueError there
            raise IncorrectLookupParameters(error) from error

    # A search of a list (an e-mail address, a name, a phone number) is kept in the staff
    # member's session and named in addresses by a random key: addresses end up in browser
    # histories, proxies' logs and the links the list's pages carry.

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        term = request.GET.get(SEARCH_VAR, "")
        if term:
            key = search_keep(request, term)
            return HttpResponseRedirect(f"{request.path}?{_naming_search(request.GET, key)}")
        refused = self.kept_search_apply(request)
        if refused is not None:
            return refused
        response: HttpResponse = super().changelist_view(request, extra_context)
        return response

    def kept_search_apply(self, request: HttpRequest) -> HttpResponse | None:
        """Put the search that ``?s=`` names back into ``request.GET`` (as if it had been
        typed) for the list, or for a view that works on the list's selection (an export);
        answer the list without it, saying so, if the session no longer keeps it."""
        key = request.GET.get(KEPT_SEARCH_VAR)
        if key is None:
            return None
        params = request.GET.copy()
        del params[KEPT_SEARCH_VAR]
        kept: str | None = request.session.get(_SEARCHES, {}).get(key) if key else None
        if not kept:
            messages.info(request, _("That search is no longer kept: search again."))
            changelist = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
                current_app=self.admin_site.name,
            )
            return HttpResponseRedirect(f"{changelist}?{params.urlencode()}")
        params[SEARCH_VAR] = kept
        request.GET = params  # type: ignore[assignment]  # a QueryDict, made mutable
        request.kept_search = key  # type: ignore[attr-defined]
        return None

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> Any:
        base = super().get_changelist(request, **kwargs)
        if getattr(request, "kept_search", None) is None:
            return base
        return type(f"KeptSearch{base.__name__}", (KeptSearchChangeList, base), {})

    def get_preserved_filters(self, request: HttpRequest) -> str:
        key = getattr(request, "kept_search", None)
        if key is None:
            return super().get_preserved_filters(request)
        # The list's own parameters, which hold the term.
        return urlencode({"_changelist_filters": _naming_search(request.GET, key)})


class AuditedModelAdmin(PortalModelAdmin):
    """A ModelAdmin whose additions, changes and deletions are written to the audit trail."""

    def _audit_scope(self, obj: Any) -> str:
        return ""

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        audit_record(
            actor=request.user,
            action="admin.added",
            target=obj,
            scope=self._audit_scope(obj),
            after={"fields": changed_fields(message)},
        )
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        fields = changed_fields(message)
        if fields:  # a form saved as it was changes nothing to prove
            audit_record(
                actor=request.user,
                action="admin.changed",
                target=obj,
                scope=self._audit_scope(obj),
                after={"fields": fields},
                reason=self.change_reason(request, obj, fields),
            )
        return super().log_change(request, obj, message)

    def change_reason(self, request: HttpRequest, obj: Any, fields: list[str]) -> str:
        """Why ``fields`` of ``obj`` were changed, for its audit event ("" if the admin
        does not say)."""
        return ""

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        for obj in queryset:
            audit_record(
                actor=request.user, action="admin.deleted", target=obj, scope=self._audit_scope(obj)
            )
        return super().log_deletions(request, queryset)

"""Staff admin of the data-store registry and of manual steps.

The registry of stores (superusers configure; compliance officers read), "test connection",
and the list of manual steps that staff complete with a note and evidence. Secrets are entered
in password fields, stored encrypted, and never shown back.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from privacy_portal.admin_site import AuditedModelAdmin, object_pk
from privacy_portal.categories import DataCategory
from privacy_portal.permissions import group_label

from . import stores
from .connectors.base import ConfigurationError
from .connectors.registry import connector_class
from .dashboard.selectors import staff_name
from .forms import ManualStepForm
from .models import DataStore, ManualStep, StoreTask, TaskState
from .services import TransitionError


def _connector_label(path: str) -> str:
    names = {dotted: name for name, dotted in settings.DSR_CONNECTORS.items()}
    return names.get(path, path)


@cache
def _secret_keys() -> dict[str, list[str]]:
    """Return every secret configuration key of the installed connectors, with the names of
    the connectors that use it."""
    keys: dict[str, list[str]] = {}
    for name, dotted in settings.DSR_CONNECTORS.items():
        try:
            cls = connector_class(dotted)
        except ImportError:
            continue
        for key in sorted(cls.secret_keys):
            keys.setdefault(key, []).append(name)
    return keys


def _secret_field(key: str) -> str:
    return f"secret_{key}"


def _clear_field(key: str) -> str:
    return f"clear_secret_{key}"


class _PrettyJSONField(forms.JSONField):
    """A JSON field shown indented, so that a configuration reads like the README's."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class _DataStoreFormBase(forms.ModelForm):  # type: ignore[type-arg]
    connector = forms.ChoiceField(label=gettext_lazy("Connector"))
    config = _PrettyJSONField(
        label=gettext_lazy("Configuration"),
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 24, "cols": 100, "spellcheck": "false", "class": "vLargeTextField"}
        ),
        help_text=gettext_lazy(
            "JSON. See “Register a store of your own” in the README for each connector's "
            "keys. Never put passwords or keys here: use the secret fields below."
        ),
    )
    categories = forms.MultipleChoiceField(
        label=gettext_lazy("Data categories"),
        choices=DataCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    identities = forms.MultipleChoiceField(
        label=gettext_lazy("Searchable by"),
        choices=DataStore.Identity.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=gettext_lazy("The identities this store can find a person by."),
    )

    class Meta:
        model = DataStore
        fields = (
            "key",
            "name",
            "owner",
            "description",
            "categories",
            "data_subjects",
            "purposes",
            "legal_basis",
            "recipients",
            "source",
            "country",
            "transfer_safeguard",
            "retention_rule",
            "legal_hold_rule",
            "identities",
            "connector",
            "config",
            "enabled",
            "is_recipient",
            "position",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        connector: Any = self.fields["connector"]
        connector.choices = [(dotted, name) for name, dotted in settings.DSR_CONNECTORS.items()]
        stored = self.instance.secrets if self.instance.pk else {}
        for key, users in _secret_keys().items():
            used_by = ", ".join(users)
            field = self.fields[_secret_field(key)]
            if key in stored:
                field.help_text = _(
                    "Stored (not shown). Leave blank to keep it; type a new value to replace "
                    "it. Used by: %(connectors)s."
                ) % {"connectors": used_by}
                field.widget.attrs["placeholder"] = "••••••••"
            else:
                field.help_text = _("Not set. Used by: %(connectors)s.") % {"connectors": used_by}
        self.new_secrets: dict[str, str] = dict(stored)

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        dotted, config = cleaned.get("connector"), cleaned.get("config")
        if not dotted:
            return cleaned
        if config is None:
            config = cleaned["config"] = {}
        if not isinstance(config, dict):
            self.add_error("config", _("The configuration must be a JSON object ({…})."))
            return cleaned
        cls = connector_class(dotted)
        secrets = dict(self.instance.secrets if self.instance.pk else {})
        for key in _secret_keys():
            if cleaned.get(_clear_field(key)):
                secrets.pop(key, None)
            value = cleaned.get(_secret_field(key))
            if value:
                secrets[key] = value
        unused = sorted(
            key
            for key in _secret_keys()
            if cleaned.get(_secret_field(key)) and key not in cls.secret_keys
        )
        if unused:
            self.add_error(
                None,
                _("The %(connector)s connector does not use %(keys)s.")
                % {"connector": _connector_label(dotted), "keys": ", ".join(unused)},
            )
        secrets = {key: value for key, value in secrets.items() if key in cls.secret_keys}
        leaked = sorted(set(config) & set(_secret_keys()))
        if leaked:
            # Shown again without the secret: it was taken out, to be typed where it belongs.
            data: Any = self.data
            data = data.copy()
            self.data = data
            data["config"] = json.dumps(
                {key: value for key, value in config.items() if key not in leaked}, indent=2
            )
            self.add_error(
                "config",
                _(
                    "%(keys)s is a secret: it was taken out of the configuration; enter it in "
                    "its secret field below."
                )
                % {"keys": ", ".join(leaked)},
            )
            return cleaned
        try:
            cls.validate_config(config, secrets)
        except ConfigurationError as error:
            self.add_error("config", str(error))
        self.new_secrets = secrets
        return cleaned

    def save(self, commit: bool = True) -> DataStore:
        store: DataStore = super().save(commit=False)
        store.set_secrets(self.new_secrets)
        if commit:
            store.save()
        return store


@cache
def datastore_form() -> type[_DataStoreFormBase]:
    """Return the registry's form, with a password field (and a "remove" box) per secret key
    of the installed connectors."""
    attrs: dict[str, Any] = {"__module__": __name__}
    for key in _secret_keys():
        attrs[_secret_field(key)] = forms.CharField(
            label=_("Secret: %(key)s") % {"key": key},
            required=False,
            strip=False,
            max_length=4000,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        )
        attrs[_clear_field(key)] = forms.BooleanField(
            label=_("Remove the stored %(key)s") % {"key": key}, required=False
        )
    return type("DataStoreForm", (_DataStoreFormBase,), attrs)


class _ConnectorFilter(admin.SimpleListFilter):
    title = gettext_lazy("connector")
    parameter_name = "connector"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(dotted, name) for name, dotted in settings.DSR_CONNECTORS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(connector=self.value()) if self.value() else queryset


class _HealthFilter(admin.SimpleListFilter):
    title = gettext_lazy("connection")
    parameter_name = "connection"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("ok", _("OK")), ("failing", _("failing")), ("untested", _("not tested"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "untested":
            return queryset.filter(last_check_ok__isnull=True)
        if value in ("ok", "failing"):
            return queryset.filter(last_check_ok=value == "ok")
        return queryset


@admin.register(DataStore)
class DataStoreAdmin(AuditedModelAdmin):
    list_display = ("name", "key", "kind", "enabled", "is_recipient", "health", "owner", "position")
    list_filter = ("enabled", "is_recipient", _ConnectorFilter, _HealthFilter)
    search_fields = ("key", "name", "owner", "description")
    ordering = ("position", "name")
    readonly_fields = (
        "last_checked_at",
        "last_check_ok",
        "last_check_detail",
        "secrets_stored",
        "categories_list",
        "identities_list",
        "config_shown",
        "kind",
    )
    actions = ("test_connection",)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = datastore_form()
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        editing = self.has_change_permission(request, obj) or (
            obj is None and self.has_add_permission(request)
        )
        if editing:
            stored = set(obj.secrets) if obj is not None else set()
            connection: tuple[str, ...] = ("connector", "identities", "config")
            for key in _secret_keys():
                connection += (_secret_field(key),)
                if key in stored:
                    connection += (_clear_field(key),)
            described: tuple[str, ...] = ("categories",)
        else:
            connection = ("kind", "identities_list", "config_shown", "secrets_stored")
            described = ("categories_list",)
        return (
            (None, {"fields": ("key", "name", "owner", "description", "enabled", "position")}),
            (
                _("What it holds and why (shown to people in their copy of their data)"),
                {
                    "fields": (
                        *described,
                        "data_subjects",
                        "purposes",
                        "legal_basis",
                        "source",
                        "recipients",
                        "country",
                        "transfer_safeguard",
                    )
                },
            ),
            (_("Keeping and erasing"), {"fields": ("retention_rule", "legal_hold_rule")}),
            (_("Connection"), {"fields": connection}),
            (
                _("Recipient (GDPR Art. 19)"),
                {
                    "fields": ("is_recipient",),
                    "description": _(
                        "A recipient is told about every erasure, correction and restriction "
                        "(by its connector, or by a manual step for staff)."
                    ),
                },
            ),
            (
                _("Last connection test"),
                {"fields": ("last_checked_at", "last_check_ok", "last_check_detail")},
            ),
        )

    @admin.display(description=gettext_lazy("Data categories"))
    def categories_list(self, store: DataStore) -> str:
        labels = dict(DataCategory.choices)
        return ", ".join(str(labels.get(key, key)) for key in store.categories or ()) or "—"

    @admin.display(description=gettext_lazy("Searchable by"))
    def identities_list(self, store: DataStore) -> str:
        return store.identities_text() or "—"

    @admin.display(description=gettext_lazy("Configuration"))
    def config_shown(self, store: DataStore) -> str:
        return format_html("<pre>{}</pre>", json.dumps(store.config, indent=2, ensure_ascii=False))

    @admin.display(description=gettext_lazy("connector"), ordering="connector")
    def kind(self, store: DataStore) -> str:
        return _connector_label(store.connector)

    @admin.display(description=gettext_lazy("connection"), ordering="last_check_ok")
    def health(self, store: DataStore) -> str:
        if store.last_check_ok is None:
            return _("not tested")
        when = (
            timezone.localtime(store.last_checked_at).strftime("%Y-%m-%d %H:%M")
            if store.last_checked_at
            else ""
        )
        label = _("OK") if store.last_check_ok else _("failing")
        return format_html("{} <small>{}</small>", label, when)

    @admin.display(description=gettext_lazy("secrets"))
    def secrets_stored(self, store: DataStore) -> str:
        names = sorted(store.secrets) if store.pk else []
        if not names:
            return _("none")
        return _("%(keys)s (stored encrypted, never shown)") % {"keys": ", ".join(names)}

    @admin.action(
        description=gettext_lazy("Test the connection of the selected stores"),
        permissions=["change"],
    )
    def test_connection(self, request: HttpRequest, queryset: QuerySet[DataStore]) -> None:
        for store in queryset:
            self._report(request, store, stores.datastore_check(store=store, actor=request.user))

    @staticmethod
    def _report(request: HttpRequest, store: DataStore, result: Any) -> None:
        if result.ok:
            messages.success(
                request,
                _("%(store)s: connection OK. %(detail)s")
                % {"store": store.name, "detail": result.detail},
            )
        else:
            messages.error(
                request, _("%(store)s: %(detail)s") % {"store": store.name, "detail": result.detail}
            )

    def get_urls(self) -> list[Any]:
        own = [
            path(
                "<path:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name="dsr_datastore_test_connection",
            )
        ]
        return own + super().get_urls()

    def test_connection_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Run the health check of one store (from its page) and go back to it."""
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        store = get_object_or_404(DataStore, pk=object_pk(object_id))
        if not self.has_change_permission(request, store):
            raise PermissionDenied
        self._report(request, store, stores.datastore_check(store=store, actor=request.user))
        return HttpResponseRedirect(reverse("admin:dsr_datastore_change", args=[store.pk]))

    def save_model(self, request: HttpRequest, obj: DataStore, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if {"connector", "config"} & set(form.changed_data):
            messages.info(
                request,
                _("Use “Test connection” to check the new configuration against the store."),
            )


@admin.register(ManualStep)
class ManualStepAdmin(AuditedModelAdmin):
    list_display = (
        "reference",
        "store",
        "action",
        "state",
        "assigned_group",
        "waiting_since",
        "overdue",
    )
    list_filter = ("state", "action", "store", "assigned_group")
    search_fields = ("request__reference", "store__name")
    ordering = ("-started_at",)
    list_select_related = ("request", "store")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(waiting_for="manual")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("request"), ordering="request__reference")
    def reference(self, task: StoreTask) -> str:
        return task.request.reference

    @admin.display(description=gettext_lazy("waiting since"), ordering="started_at")
    def waiting_since(self, task: StoreTask) -> Any:
        return task.started_at

    @admin.display(description=gettext_lazy("overdue"), boolean=True)
    def overdue(self, task: StoreTask) -> bool:
        if task.state != TaskState.WAITING or task.started_at is None:
            return False
        hours = (timezone.now() - task.started_at).total_seconds() / 3600
        return bool(hours > settings.DSR_MANUAL_REMINDER_HOURS)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """Show the step with its instructions and, while it waits, the form that completes it."""
        task = get_object_or_404(
            StoreTask.objects.select_related("request", "store"),
            pk=object_pk(object_id),
            waiting_for="manual",
        )
        if not self.has_view_or_change_permission(request, task):
            raise PermissionDenied
        can_complete = task.state == TaskState.WAITING and stores.may_complete(request.user, task)
        form = ManualStepForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
            action=task.action,
        )
        if request.method == "POST":
            if not can_complete:
                raise PermissionDenied
            if form.is_valid():
                try:
                    stores.manual_step_complete(
                        task=task,
                        actor=request.user,
                        note=form.cleaned_data["note"],
                        evidence=form.cleaned_data.get("evidence"),
                        data_files=form.cleaned_data.get("data_files") or (),
                        nothing_held=form.cleaned_data.get("nothing_held", False),
                    )
                except ValidationError as error:
                    form.add_error(None, error)
                except TransitionError as error:
                    # Someone else completed the step meanwhile: show it as it is now.
                    messages.error(request, str(error))
                    return HttpResponseRedirect(request.path)
                else:
                    messages.success(
                        request,
                        _("The step of %(reference)s in %(store)s is done.")
                        % {"reference": task.request.reference, "store": task.store.local_name},
                    )
                    return HttpResponseRedirect(reverse("admin:dsr_manualstep_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Manual step: %(action)s in %(store)s")
            % {"action": task.get_action_display(), "store": task.store.local_name},
            "opts": self.opts,
            "task": task,
            "req": task.request,
            # Staff are named, as on the officer's request page (not "Account #6").
            "completed_by": staff_name(task.completed_by) if task.completed_by else "",
            "assigned_to": group_label(task.assigned_group) if task.assigned_group else "",
            # The store may know the person by an address they had before.
            "former_emails": task.request.snapshot().get("former_emails") or (),
            "form": form,
            "can_complete": can_complete,
            "has_view_permission": True,
            **(extra_context or {}),
        }
        return TemplateResponse(
            request,
            "admin/dsr/manualstep/complete.html",
            context,
            status=400 if request.method == "POST" else 200,
        )

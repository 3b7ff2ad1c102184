"""Finding and building the connector of a store."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import ConfigurationError, Connector, TaskContext


def connector_class(path: str) -> type[Connector]:
    """Return the connector class at ``path``; only the paths in ``DSR_CONNECTORS`` load."""
    if path not in settings.DSR_CONNECTORS.values():
        raise ImportError(f"{path} is not one of DSR_CONNECTORS")
    cls: Any = import_string(path)
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ImproperlyConfigured(f"{path} is not a Connector")
    return cls


def connector_for(store: Any, *, context: TaskContext | None = None) -> Connector:
    """Return a connector configured for ``store`` (a DataStore row), for the store task
    described by ``context`` if there is one."""
    try:
        cls = connector_class(store.connector)
    except ImportError as error:
        raise ConfigurationError(str(error)) from None
    return cls(store_key=store.key, config=store.config, secrets=store.secrets, context=context)

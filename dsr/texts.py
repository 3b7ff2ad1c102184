"""Texts that staff configure for the person to read (a store's name, a column's
explanation): either one text, or the text in each language (``{"en": "…", "de": "…"}``),
read in the person's language with English as the fallback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.functional import lazy
from django.utils.translation import get_language, gettext_noop, override
from django.utils.translation import gettext as _
from django_stubs_ext import StrOrPromise

from .connectors.base import ConfigurationError

#: The language every text must be given in, read when the person's language is missing.
FALLBACK = "en"

ConfiguredText = str | Mapping[str, str]


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def text_parse(value: Any, where: str) -> ConfiguredText:
    """Return ``value`` if it is a text or a mapping of language code to text with an
    English one; raise ConfigurationError saying what is wrong."""
    if isinstance(value, str):
        return value  # one text for every language (an empty one explains nothing, as before)
    if not isinstance(value, Mapping) or not value:
        raise ConfigurationError(
            _(
                "%(where)s must be a text, or an object of texts by language "
                '({"en": "…", "de": "…"}).'
            )
            % {"where": where}
        )
    codes = language_codes()
    unknown = sorted(str(code) for code in value if code not in codes)
    if unknown:
        raise ConfigurationError(
            gettext_noop("%(where)s: unknown language %(codes)s; use %(choices)s."),
            where=where,
            codes=", ".join(unknown),
            choices=", ".join(codes),
        )
    for code, text in value.items():
        if not isinstance(text, str) or not text.strip():
            raise ConfigurationError(
                gettext_noop("%(where)s.%(code)s must be a non-empty text."), where=where, code=code
            )
    if FALLBACK not in value:
        raise ConfigurationError(
            gettext_noop(
                "%(where)s needs an English text (“%(code)s”), read in every other language."
            ),
            where=where,
            code=FALLBACK,
        )
    return {str(code): str(text) for code, text in value.items()}


def texts_parse(value: Any, where: str) -> dict[str, ConfiguredText]:
    """Return a mapping of names (columns, entities) to configured texts, checked."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(gettext_noop("%(where)s must be an object ({…})."), where=where)
    return {str(name): text_parse(text, f"{where}.{name}") for name, text in value.items()}


def text_in(value: ConfiguredText, language: str | None) -> str:
    """Return ``value`` in ``language`` (its base language, else English)."""
    if isinstance(value, str):
        return value
    language = (language or settings.LANGUAGE_CODE).lower()
    for code in (language, language.split("-")[0], FALLBACK):
        if value.get(code):
            return value[code]
    return next(iter(value.values()), "")


def _in_active_language(value: ConfiguredText) -> str:
    return text_in(value, get_language())


_lazy_text = lazy(_in_active_language, str)


def text_lazy(value: ConfiguredText) -> StrOrPromise:
    """Return ``value`` as a text read in the active language when it is used (the sinks of
    access packages read descriptions in the language of the person's request)."""
    if isinstance(value, str):
        return value
    text: StrOrPromise = _lazy_text(value)
    return text


def store_names_parse(config: Mapping[str, Any]) -> None:
    """Check the optional ``names`` of a store's configuration (its name by language)."""
    if "names" in config:
        names = text_parse(config["names"], "names")
        if isinstance(names, str):
            raise ConfigurationError(
                _(
                    "names must be an object: the store's name by language "
                    '({"en": "…", "de": "…"}).'
                )
            )


def store_entity_names_parse(config: Mapping[str, Any]) -> None:
    """Check the optional ``entity_names`` of a store's configuration: what each of its
    entities (tables, folders) is called, as a text or by language."""
    if "entity_names" in config:
        texts_parse(config["entity_names"], "entity_names")


def store_entity_name(
    store: Any, entity: str, language: str | None = None, *, for_staff: bool = False
) -> str:
    """Return what the person reads as the name of ``entity`` of ``store`` (a DataStore), in
    ``language`` (the active one by default): from the ``entity_names`` of its configuration,
    else the title the portal gives its own records (``for_staff``: the one that speaks of
    "the person", where there is one), else the entity's key in words."""
    config = store.config if isinstance(store.config, Mapping) else {}
    names = config.get("entity_names")
    if isinstance(names, Mapping) and isinstance(names.get(entity), str | Mapping):
        chosen = text_in(names[entity], language or get_language())
        if chosen.strip():
            return chosen
    from .connectors.portal import declarations
    from .portal_store import PORTAL_STORE_KEY

    if store.key == PORTAL_STORE_KEY:
        found = next((d for d in declarations() if d.entity == entity), None)
        title = (found.staff_title or found.title if for_staff else found.title) if found else ""
        if title:
            with translation.override(language or get_language()):
                return str(title)
    return entity.replace("_", " ")


def store_name(store: Any, language: str | None = None) -> str:
    """Return the name of ``store`` (a DataStore) as the person reads it: from the ``names``
    of its configuration in ``language`` (the active one by default), else its name (through
    the catalogue, which translates the portal's own and the demo stores' names)."""
    names = (store.config or {}).get("names") if isinstance(store.config, Mapping) else None
    if isinstance(names, Mapping) and names:
        chosen = text_in(names, language or get_language())
        if chosen.strip():
            return chosen
    name = str(store.name)
    if not name.strip():
        return name  # gettext("") would be the catalogue's header
    with override(language or get_language()):
        return _(name)

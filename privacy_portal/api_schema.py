"""Finishing touches to the generated OpenAPI schema (a drf-spectacular postprocessing hook):
the answers every authenticated operation may give, and the rules between fields that the views
apply, so that clients (and the fuzzer) see them."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

ERROR_RESPONSES = {
    "401": "The token is missing, unknown, expired or revoked.",
    "403": "The token's client lacks the scope this operation needs.",
    "429": "Too many calls; try again later.",
}
NO_NUL = "^[^\\u0000]*$"
NOT_BLANK = {"type": "string", "minLength": 1, "pattern": "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"}


def _purpose_keys() -> tuple[list[str], list[str], dict[str, list[str]]]:
    """The keys a consent event may name, those a request may name, and those each type of
    request that names purposes may name (from the catalogue: the schema follows it)."""
    from consent.catalogue import catalogue
    from dsr.consent_bridge import known_purposes, purposes_by_type

    switchable = sorted(key for key, purpose in catalogue().by_key.items() if purpose.switchable)
    by_type = {kind: sorted(keys) for kind, keys in purposes_by_type().items()}
    return switchable, sorted(known_purposes()), by_type


def _one_person(component: dict[str, Any]) -> None:
    """A person is named by ``email`` or by ``customer_id``: exactly one of them."""
    component["oneOf"] = [
        {"required": ["email"], "not": {"required": ["customer_id"]}},
        {"required": ["customer_id"], "not": {"required": ["email"]}},
    ]


def _request_rules(
    component: dict[str, Any], objectable: list[str], by_type: dict[str, list[str]]
) -> None:
    """An objection or withdrawal names the purposes (a withdrawal those done with consent, an
    objection the others and direct marketing); a rectification says what is wrong; an
    identity check names its method and how it was done; the texts hold no characters that
    could disguise them."""
    from accounts.validators import DISGUISING, DISGUISING_ONE_LINE
    from dsr.services import CHECK_IN_WORDS

    properties = component["properties"]
    properties["full_name"]["pattern"] = f"^[^{DISGUISING_ONE_LINE}]*$"
    for name in ("details", "identity_note"):
        properties[name]["pattern"] = f"^[^{DISGUISING}]*$"
    if objectable:
        properties["purposes"]["items"]["enum"] = objectable
    component["allOf"] = [
        {
            "anyOf": [
                {"properties": {"type": {"not": {"enum": [kind]}}}},
                {"properties": {"purposes": {"items": {"enum": keys}}}},
            ]
        }
        for kind, keys in by_type.items()
        if keys
    ] + [
        {
            "anyOf": [
                {"properties": {"type": {"not": {"enum": ["objection", "withdraw_consent"]}}}},
                {"required": ["purposes"], "properties": {"purposes": {"minItems": 1}}},
            ]
        },
        {
            "anyOf": [
                {"properties": {"type": {"not": {"enum": ["rectification"]}}}},
                {"required": ["details"], "properties": {"details": NOT_BLANK}},
            ]
        },
        {
            "anyOf": [
                {"not": {"required": ["identity_method"]}},
                {
                    "required": ["identity_method", "identity_note"],
                    "properties": {"identity_note": {"type": "string", "pattern": CHECK_IN_WORDS}},
                },
            ]
        },
    ]


def document_errors(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if "requestBody" in operation:
                operation["requestBody"]["required"] = True
            # Every operation refuses query parameters it does not document.
            operation["responses"].setdefault(
                "400", {"description": "The request is malformed; the answer says why."}
            )
            if operation.get("security") in ([{}], []):
                continue
            for code, description in ERROR_RESPONSES.items():
                operation["responses"].setdefault(code, {"description": description})
    try:
        switchable, objectable, by_type = _purpose_keys()
    except (DatabaseError, RedisError, OSError):
        # `check --deploy` builds the schema too, also where the database or the cache is not
        # reachable yet (a deployment checked before its services start).
        logger.warning("schema without the purpose catalogue (database or cache unavailable)")
        switchable, objectable, by_type = [], [], {}
    schemas = result.get("components", {}).get("schemas", {})
    for component in schemas.values():
        for prop in component.get("properties", {}).values():
            # Text never holds NUL characters (the database could not store them).
            if prop.get("type") == "string" and not {"pattern", "format", "enum"} & set(prop):
                prop["pattern"] = NO_NUL
    for name in _strict_components():
        if name in schemas:
            # The API refuses fields the schema does not have (StrictSerializer).
            schemas[name]["additionalProperties"] = False
    for name in ("Lookup", "EventCreate"):
        if name in schemas:
            _one_person(schemas[name])
    if switchable and "EventCreate" in schemas:
        schemas["EventCreate"]["properties"]["purpose"]["enum"] = switchable
    if "RequestIn" in schemas:
        _request_rules(schemas["RequestIn"], objectable, by_type)
    return result


def _strict_components() -> list[str]:
    """Return the component names of the request bodies that refuse unknown fields (every
    ``StrictSerializer`` that does not ignore them; drf-spectacular names a component after
    its serializer, without "Serializer")."""
    from consent.api.base import StrictSerializer

    found: list[str] = []
    pending = list(StrictSerializer.__subclasses__())
    while pending:
        serializer = pending.pop()
        pending.extend(serializer.__subclasses__())
        if not serializer.unknown_fields_ignored:
            found.append(serializer.__name__.removesuffix("Serializer"))
    return found

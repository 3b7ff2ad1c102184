"""The base of every API view and body: a client token with scopes, query strings that hold only
the parameters the operation documents, and JSON values of the type the schema gives.

A parameter the operation does not know is refused with 400 rather than ignored: a client that
misspells ``limit`` learns it at once instead of paging with the default. Likewise a number sent
where the schema says text (or text where it says a boolean) is refused rather than converted,
so that the schema says exactly what the API accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.views import APIView

from .authentication import ApiTokenAuthentication, HasScope


class StrictQueryView(APIView):
    """Refuse query parameters outside ``query_parameters`` (400, naming them)."""

    query_parameters: ClassVar[frozenset[str]] = frozenset()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        unknown = sorted(set(request.query_params) - self.query_parameters)
        if unknown:
            raise ParseError({"error": "unknown_query_parameter", "parameters": unknown[:10]})


class ApiView(StrictQueryView):
    """An operation for Inper's other systems: a bearer token whose client holds
    ``required_scope``."""

    authentication_classes = [ApiTokenAuthentication]
    permission_classes = [HasScope]
    required_scope = ""

    def prefetch_keys(self, **kwargs: Any) -> list[str]:
        """Cache keys to read together with the token's (one round trip instead of two)."""
        return []


#: The JSON type each kind of field takes (the first match counts: a BooleanField is no
#: IntegerField, and Python's ``bool`` is an ``int``, so booleans are told apart below).
_JSON_TYPES: tuple[tuple[type[Any], type], ...] = (
    (serializers.BooleanField, bool),
    (serializers.IntegerField, int),
    (serializers.ChoiceField, str),
    (serializers.CharField, str),
)


def _json_type_valid(field: Any, value: Any) -> bool:
    if value is None:
        return True  # the field's own allow_null decides
    if isinstance(field, serializers.ListField):
        return isinstance(value, list) and all(_json_type_valid(field.child, v) for v in value)
    expected = next((kind for cls, kind in _JSON_TYPES if isinstance(field, cls)), None)
    if expected is None:
        return True
    return isinstance(value, expected) and (expected is bool or not isinstance(value, bool))


class StrictSerializer(serializers.Serializer[Any]):
    """A request body whose values must already have their JSON type (no "1" for 1, no 5 for
    "5") and whose fields must all be the schema's (a misspelt optional field, "langauge",
    would otherwise be ignored without a word): refused with the field's name otherwise."""

    #: Whether fields the schema does not have are ignored (a provider's payload that grows).
    unknown_fields_ignored = False

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            errors = {
                name: [f"Expected the type the schema gives, not {type(data[name]).__name__}."]
                for name, field in self.fields.items()
                if name in data and not _json_type_valid(field, data[name])
            }
            if not self.unknown_fields_ignored:
                unknown = [str(name)[:100] for name in data if name not in self.fields]
                errors.update(
                    {
                        name: ["Unknown field: the schema has no such field."]
                        for name in unknown[:20]
                    }
                )
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

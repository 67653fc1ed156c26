"""Serializer fields shared by the apps' APIs."""

from django.utils.encoding import smart_str
from rest_framework import serializers

from core.errors import NotFoundError


class ReferenceNotFoundError(NotFoundError):
    """A well-formed id or slug in a request names nothing: 404 `not_found`, naming the field.

    A schema can say an id is an integer, never that it exists, so this is not a 400 (which
    says the request is malformed). Stripe answers such references the same way (404
    `resource_missing`, naming the parameter).
    """

    def __init__(self, field: serializers.Field, value: object):
        model = field.get_queryset().model
        # The child of a many=True field has no name of its own; its parent has.
        name = field.field_name or getattr(field.parent, "field_name", "")
        shown = smart_str(value)[:100]
        slug_field = getattr(field, "slug_field", None)
        key = f"{slug_field} {shown!r}" if slug_field else f"id {shown}"
        super().__init__(
            f"{name}: no {model._meta.verbose_name} with {key}.", field=name, value=shown
        )


class _MissingIsNotFound:
    def fail(self, key, **kwargs):
        if key == "does_not_exist":
            raise ReferenceNotFoundError(self, kwargs.get("pk_value", kwargs.get("value")))
        super().fail(key, **kwargs)


class PrimaryKeyRelatedField(_MissingIsNotFound, serializers.PrimaryKeyRelatedField):
    """DRF's PrimaryKeyRelatedField; an id of nothing is a 404 (ReferenceNotFoundError)."""


class SlugRelatedField(_MissingIsNotFound, serializers.SlugRelatedField):
    """DRF's SlugRelatedField, refusing a NUL character before it looks anything up; a slug
    of nothing is a 404 (ReferenceNotFoundError).

    PostgreSQL cannot compare text holding NUL, so the lookup would raise DataError (a
    500); DRF's CharField refuses it the same way.
    """

    default_error_messages = {"null_characters": "Null characters are not allowed."}

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("null_characters")
        return super().to_internal_value(data)

"""Serializer fields shared by the apps' APIs."""

from rest_framework import serializers


class SlugRelatedField(serializers.SlugRelatedField):
    """DRF's SlugRelatedField, refusing a NUL character before it looks anything up.

    PostgreSQL cannot compare text holding NUL, so the lookup would raise DataError (a
    500); DRF's CharField refuses it the same way.
    """

    default_error_messages = {"null_characters": "Null characters are not allowed."}

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("null_characters")
        return super().to_internal_value(data)

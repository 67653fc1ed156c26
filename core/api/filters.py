"""
List filters that answer what they are asked.

django-filter's default for a foreign key is a ModelChoiceFilter, which refuses an id that
does not exist with a 400 ("Select a valid choice"), although the request is well formed.
Here a foreign key filters by its id like any number: an unknown id matches nothing and the
list is empty (200), which is what the schema (an integer) promises. The base queryset of
each view still decides whose rows can be listed at all.
"""

from django import forms
from django.db import models
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field


@extend_schema_field({"type": "integer", "format": "int64"})
class IdFilter(filters.NumberFilter):
    field_class = forms.IntegerField


class FilterSet(filters.FilterSet):
    FILTER_DEFAULTS = {
        **filters.FilterSet.FILTER_DEFAULTS,
        models.ForeignKey: {"filter_class": IdFilter},
        models.OneToOneField: {"filter_class": IdFilter},
    }


class FilterBackend(filters.DjangoFilterBackend):
    """DjangoFilterBackend whose generated filter sets (`filterset_fields`) use FilterSet."""

    filterset_base = FilterSet

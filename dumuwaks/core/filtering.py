"""List filtering with django-filter: one `FilterSet` per resource (`<app>/filters.py`), applied by the
resource's selector, documented in the OpenAPI schema from the FilterSet itself.

Why the selector applies it (HackSoft's pattern) rather than `DjangoFilterBackend` in the view: selectors are
the read layer, so the queryset the tests exercise is the one production serves, filters included, and a cache
built on a selector sees the filters it serves. Views only declare `filterset_class` with
`filter_backends = [FilterSetInSelector]`, which documents the parameters and filters nothing.

Wire names are camelCase like the rest of the contract: a filter declared as `assigned_to` is the parameter
`assignedTo`, and `from_` (a Python keyword) is `from`. An invalid value is a 400 `validation_error` whose
`fields` name the parameter as the client sent it; an empty value means "no filter", as in django-filter.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework.fields import BooleanField as DrfBooleanField

from dumuwaks.core.errors import ValidationFailed
from dumuwaks.core.renderers import camel_key


def wire_name(attribute: str) -> str:
    """`assigned_to` -> `assignedTo`; `from_` -> `from`."""
    return camel_key(attribute.rstrip("_"))


class _CopiedPerInstance(dict):
    """A FilterSet class's filters, or its form class's fields. Every FilterSet deep-copies its filters
    (django-filter, to set itself as their `parent`) and every form its fields (Django); a copy of each is
    enough, as nothing here changes a declaration (`extra`, choices, widgets, validators) per instance, and
    deep-copying choices and help texts was a sixth of a list request."""

    def __deepcopy__(self, memo):
        return {name: _copy_declared(declared) for name, declared in self.items()}


def _copy_declared(declared):
    copied = copy.copy(declared)
    if isinstance(declared, django_filters.Filter) and declared.method is not None:
        # Binds the copy's own FilterMethod, which finds the filter's `parent` through it.
        copied.method = declared.method
    return copied


class FilterSet(django_filters.FilterSet):
    """Filters named in camelCase on the wire; `user` is the caller, for filters such as `assignedTo=me`.
    A filter declared with `initial=` applies that value when the parameter is absent or empty (the recipe
    of django-filter's docs: an unbound default would otherwise mean "no filter")."""

    def __init__(self, data=None, queryset=None, *, user=None, **kwargs):
        self.user = user
        defaults = {
            name: f.extra["initial"]
            for name, f in self.base_filters.items()
            if f.extra.get("initial") is not None and not (data or {}).get(name)
        }
        if defaults:
            data = data.copy() if data is not None else {}
            for name, value in defaults.items():
                data[name] = value
        super().__init__(data=data, queryset=queryset, **kwargs)

    def get_form_class(self):
        # The form depends only on the declared filters (no filter here reads the request or the instance,
        # as django-filter's ModelChoiceFilter would), so each FilterSet class builds its form class once:
        # building it per request (a new class and a new form field per filter) was a tenth of a list
        # request.
        cls = type(self)
        form_class = cls.__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            form_class.base_fields = _CopiedPerInstance(form_class.base_fields)
            cls._form_class = form_class
        return form_class

    @classmethod
    def get_filters(cls):
        # Declared filters keep their model `field_name` (set from the attribute before this runs);
        # only the parameter name changes.
        return _CopiedPerInstance((wire_name(name), f) for name, f in super().get_filters().items())


def validated_filterset(
    filterset_class: type[FilterSet], *, data: Mapping | None, queryset: QuerySet, user=None
) -> FilterSet:
    """The FilterSet bound to `data` (a QueryDict or a dict of wire names), or a 400 naming the parameters.
    For a selector that also needs a value (`.form.cleaned_data`) besides the queryset (`.qs`)."""
    filterset = filterset_class(data=data if data is not None else {}, queryset=queryset, user=user)
    if not filterset.is_valid():
        raise ValidationFailed(
            fields={name: [str(e) for e in errors] for name, errors in filterset.errors.items()}
        )
    return filterset


def filter_queryset(
    filterset_class: type[FilterSet], *, data: Mapping | None, queryset: QuerySet, user=None
) -> QuerySet:
    """`queryset` narrowed by the parameters in `data`, or a 400 naming the invalid parameters."""
    return validated_filterset(filterset_class, data=data, queryset=queryset, user=user).qs


# --- filters whose invalid values are refused, not ignored -------------------------------------------------------


class _StrictBooleanField(forms.Field):
    """The values DRF's BooleanField accepts; django-filter's own widget turns anything else into "no filter",
    so `?unread=maybe` would silently list everything."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, str):
            value = value.lower()
        if value in DrfBooleanField.TRUE_VALUES:
            return True
        if value in DrfBooleanField.FALSE_VALUES:
            return False
        raise forms.ValidationError("Must be a valid boolean (true or false).", code="invalid")


class BooleanFilter(django_filters.BooleanFilter):
    field_class = _StrictBooleanField


@extend_schema_field({"type": "integer", "minimum": 1})
class IdFilter(django_filters.NumberFilter):
    """A positive whole number (a primary key)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


# --- the schema --------------------------------------------------------------------------------------------------


class FilterSetInSelector(DjangoFilterBackend):
    """Declares a view's `filterset_class` for the schema; the view's selector applies it (see the module
    docstring), so filtering the queryset again here would be a second read path."""

    def filter_queryset(self, request, queryset, view):
        return queryset


class FilterSetInSelectorExtension(DjangoFilterExtension):
    """drf-spectacular's django-filter support, reading the FilterSet from the view (these views have no
    `queryset` attribute: their selector builds it). A filter whose type comes from `extend_schema_field`
    (IdFilter, a list in one string) keeps its `help_text` as the description, which drf-spectacular only
    reads for the types it works out itself."""

    target_class = FilterSetInSelector
    priority = 1

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs):
        filterset_class = auto_schema.view.filterset_class
        model = filterset_class._meta.model
        parameters = []
        for name, field in filterset_class.base_filters.items():
            for parameter in self.resolve_filter_field(
                auto_schema, model, filterset_class, name, field
            ):
                if field.extra.get("initial") is not None:
                    parameter["schema"]["default"] = field.extra["initial"]
                if not parameter.get("description") and field.extra.get("help_text"):
                    parameter["description"] = str(field.extra["help_text"])
                parameters.append(parameter)
        return parameters

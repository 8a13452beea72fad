"""The project's ModelSerializer base: DRF's, with its fields built from the model once per class.

DRF rebuilds a ModelSerializer's fields by model introspection every time one is instantiated (about
0.45 ms for 20 fields, a tenth of a small API request). What it builds depends only on the class (Meta
and the declared fields), never on the instance, data or context, so it is built once and each instance
gets a deep copy, as a plain Serializer's declared fields are copied (a third of the cost).
Subclasses that adjust `get_fields()` still call super() and change their own copy.
"""

import copy

from rest_framework import fields, serializers


class ModelSerializer(serializers.ModelSerializer):
    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_fields_built_once")
        if built is None:
            built = super().get_fields()
            cls._fields_built_once = built
        return copy.deepcopy(built)


class AverageField(serializers.DecimalField):
    """An average stored beside the count it averages (a technician's `rating_average` and `rating_count`):
    null when the count is 0, so "no reviews yet" never reads as a zero-star average. Decimal like
    `DecimalField(max_digits=3, decimal_places=2)` ("4.50") otherwise.

    `count_source` is the count's attribute path from the same object `source` starts at."""

    def __init__(
        self, *, count_source: str, max_digits: int = 3, decimal_places: int = 2, **kwargs
    ):
        self.count_attrs = count_source.split(".")
        kwargs.setdefault("read_only", True)
        super().__init__(
            max_digits=max_digits, decimal_places=decimal_places, allow_null=True, **kwargs
        )

    def get_attribute(self, instance):
        if not fields.get_attribute(instance, self.count_attrs):
            return None
        return super().get_attribute(instance)

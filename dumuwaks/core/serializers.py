"""The project's ModelSerializer base: DRF's, with its fields built from the model once per class.

DRF rebuilds a ModelSerializer's fields by model introspection every time one is instantiated (about
0.45 ms for 20 fields, a tenth of a small API request). What it builds depends only on the class (Meta
and the declared fields), never on the instance, data or context, so it is built once and each instance
gets a deep copy, as a plain Serializer's declared fields are copied (a third of the cost).
Subclasses that adjust `get_fields()` still call super() and change their own copy.
"""

import copy

from rest_framework import serializers


class ModelSerializer(serializers.ModelSerializer):
    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_fields_built_once")
        if built is None:
            built = super().get_fields()
            cls._fields_built_once = built
        return copy.deepcopy(built)

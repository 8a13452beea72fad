"""The ModelSerializer base builds fields once per class and hands each instance its own copy."""

import pytest
from rest_framework import serializers

from accounts.models import ServiceCategory
from dumuwaks.core.serializers import ModelSerializer


class CategorySerializer(ModelSerializer):
    class Meta:
        model = ServiceCategory
        fields = ["id", "slug", "name"]


class RenamingCategorySerializer(CategorySerializer):
    def get_fields(self):
        fields = super().get_fields()
        fields["title"] = fields.pop("name")
        fields["title"].source = "name"
        return fields


def test_fields_are_built_once_per_class_and_copied_per_instance(monkeypatch):
    calls = []
    original = serializers.ModelSerializer.get_fields

    def counting(self):
        calls.append(type(self))
        return original(self)

    monkeypatch.setattr(serializers.ModelSerializer, "get_fields", counting)
    monkeypatch.delattr(CategorySerializer, "_fields_built_once", raising=False)
    first, second = CategorySerializer(), CategorySerializer()
    assert list(first.fields) == list(second.fields) == ["id", "slug", "name"]
    assert calls == [CategorySerializer]
    assert first.fields["slug"] is not second.fields["slug"]
    assert first.fields["slug"].parent is first and second.fields["slug"].parent is second


@pytest.mark.django_db
def test_subclasses_build_their_own_and_may_adjust_their_copy():
    category = ServiceCategory.objects.create(slug="masonry", name="Masonry")
    assert RenamingCategorySerializer(category).data == {
        "id": category.pk,
        "slug": "masonry",
        "title": "Masonry",
    }
    assert CategorySerializer(category).data["name"] == "Masonry"
    assert list(RenamingCategorySerializer().fields) == ["id", "slug", "title"]


def test_the_same_output_as_drf_builds_fresh():
    class Fresh(serializers.ModelSerializer):
        class Meta(CategorySerializer.Meta):
            pass

    for name, field in CategorySerializer().fields.items():
        fresh = Fresh().fields[name]
        assert type(field) is type(fresh)
        assert repr(field) == repr(fresh)

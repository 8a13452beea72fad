import json
from decimal import Decimal

from djangorestframework_camel_case.util import camelize as library_camelize
from hypothesis import given
from hypothesis import strategies as st

from dumuwaks.core.renderers import CamelCaseJSONRenderer, PreRenderedPage, camelize

_keys = st.text(alphabet="abcxyz_019ABC", min_size=1, max_size=12)
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.just(Decimal("1.50")),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=20,
)


@given(_values)
def test_same_output_as_the_library(data):
    assert camelize(data) == library_camelize(data)


def test_examples():
    assert camelize(
        {"deposit_paid_at": None, "address_line_1": 1, "fields": {"first_name": ["x"]}}
    ) == {
        "depositPaidAt": None,
        "addressLine1": 1,
        "fields": {"firstName": ["x"]},
    }


@given(
    envelope=st.dictionaries(_keys, _values, max_size=4),
    items=st.lists(st.dictionaries(_keys, _values, max_size=4), max_size=5),
    indent=st.sampled_from([None, 2]),
)
def test_a_pre_rendered_page_renders_as_the_whole_page(envelope, items, indent):
    renderer = CamelCaseJSONRenderer()
    media_type = "application/json" if indent is None else f"application/json; indent={indent}"
    whole = {**envelope, "results": items}
    fragments = [renderer.render(item) for item in items]
    spliced = renderer.render(PreRenderedPage(envelope, fragments), media_type)
    if indent is None:
        assert spliced == renderer.render(whole, media_type)
    else:  # the items keep their compact rendering inside an indented envelope
        assert json.loads(spliced) == json.loads(renderer.render(whole, media_type))

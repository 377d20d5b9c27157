from hypothesis import given, strategies as st
@given(st.integers())
def test_x(x):
    assert x < 5

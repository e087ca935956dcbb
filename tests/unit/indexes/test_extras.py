"""require_extra: a missing pip extra is one error naming the extra to install."""

from __future__ import annotations

import sys

import pytest

from indexes.extras import EXTRAS, MissingExtra, missing_modules, require_extra


def test_installed_extras_pass():
    """The dev install has every extra: nothing is reported missing."""
    for extra in EXTRAS:
        assert missing_modules(extra) == []
        require_extra(extra, "anything")


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_each_module_of_an_extra_is_checked(monkeypatch, extra):
    for module in EXTRAS[extra]:
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, module, None)  # as good as not installed
            with pytest.raises(MissingExtra) as caught:
                require_extra(extra, "the feature")
        message = str(caught.value)
        assert f"pip install 'folio[{extra}]'" in message and module in message
        assert message.startswith("the feature needs the") and caught.value.extra == extra


def test_a_missing_parent_package_counts_as_missing(monkeypatch):
    monkeypatch.setitem(EXTRAS, "probe", ("folio_no_such_package.sub",))
    assert missing_modules("probe") == ["folio_no_such_package.sub"]


def test_missing_extra_is_an_import_error():
    """Callers that already handle ImportError (optional features) keep working."""
    error = MissingExtra("evals", "folio eval", "ranx")
    assert isinstance(error, ImportError) and error.name == "ranx"

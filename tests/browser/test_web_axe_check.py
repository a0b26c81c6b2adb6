"""The accessibility check itself can fail: a page with a serious violation is refused."""

from __future__ import annotations

import pytest

from tests.browser.conftest import check_accessibility


def test_a_form_field_without_a_label_fails_the_check(context, axe_source) -> None:
    page = context.new_page()
    page.set_content(
        '<!doctype html><html lang="it"><head><title>prova</title></head>'
        "<body><main><h1>Prova</h1><form><input name='x'></form></main></body></html>"
    )
    with pytest.raises(AssertionError, match="label"):
        check_accessibility(page, axe_source, "prova")

"""The package-level API named in the issues, and that importing the package stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import metapool


@pytest.mark.parametrize("name", metapool.__all__)
def test_every_export_resolves(name):
    assert getattr(metapool, name) is not None


def test_pool_proportions_from_the_package_matches_the_okayama_example():
    res = metapool.pool_proportions([3], [9])
    assert res.k == 1 and round(res.estimate, 4) == 0.3333
    assert res.summary_frame().loc[0, "k"] == 1


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError):
        metapool.no_such_function  # noqa: B018


def test_import_metapool_loads_no_numerics():
    code = "import sys, metapool; print(sorted(m for m in ('numpy', 'scipy', 'pandas', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

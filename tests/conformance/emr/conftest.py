"""Fixtures of the EMR conformance tests: one operator flavour per test (the provider's class, the
drop-in, the drop-in with ``durable=False``), on the local AWS (moto, one server per session; the
``application``, ``virtual_cluster`` and ``cluster`` fixtures come from tests/conftest.py).
"""

from __future__ import annotations

import pytest
from conformance_helpers import FLAVOURS


@pytest.fixture(params=FLAVOURS)
def flavour_name(request: pytest.FixtureRequest) -> str:
    """``provider``, ``durable`` or ``not_durable``."""
    return str(request.param)

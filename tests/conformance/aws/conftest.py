"""Fixtures of the AWS job-family conformance tests (EMR clusters, Athena): one operator flavour per test
(the provider's class, the drop-in, the drop-in with ``durable=False``), on the session's local AWS (moto;
the ``aws`` fixture comes from tests/conftest.py, the helpers from tests/aws_servers.py).
"""

from __future__ import annotations

import pytest
from conformance_helpers import FLAVOURS


@pytest.fixture(params=FLAVOURS)
def flavour_name(request: pytest.FixtureRequest) -> str:
    """``provider``, ``durable`` or ``not_durable``."""
    return str(request.param)

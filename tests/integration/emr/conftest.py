"""The EMR DAG tests use the local AWS fixtures (``aws``, ``application``, ``virtual_cluster``,
``cluster``) from tests/conftest.py; the provider's hooks reach moto through ``aws_default``."""

"""The AWS job-family DAG tests use the local AWS fixture (``aws``) from tests/conftest.py; the providers'
hooks reach moto through ``aws_default``, and tests/aws_servers.py reads and moves the AWS side."""

"""The local AWS the EMR stories run against: moto's server on 127.0.0.1 behind ``aws_default``."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CONN = "AIRFLOW_CONN_AWS_DEFAULT"
REGION = "us-east-1"


@contextmanager
def local_emr() -> Iterator[Any]:
    """Start moto's server, point ``aws_default`` at it, and yield a boto3 EMR client for it.

    On the way out the connection variable is put back as it was and the server stops. moto's backends are
    process-wide, so a story counts only what its own runs made.
    """
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    previous = os.environ.get(CONN)
    os.environ[CONN] = json.dumps(
        {
            "conn_type": "aws",
            "login": "demo",
            "password": "demo",
            "extra": {"endpoint_url": url, "region_name": REGION},
        }
    )
    try:
        yield boto3.client(
            "emr",
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id="demo",
            aws_secret_access_key="demo",
        )
    finally:
        if previous is None:
            os.environ.pop(CONN, None)
        else:
            os.environ[CONN] = previous
        server.stop()

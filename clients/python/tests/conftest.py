"""A real ``graphd serve`` on a free port, over a fresh data dir, for each test that asks."""

import os
import pathlib
import signal
import subprocess
import tempfile
from typing import Iterator

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]


def graphd_binary() -> pathlib.Path:
    binary = pathlib.Path(os.environ.get("GRAPHD_BIN", REPO / "target" / "debug" / "graphd"))
    if not binary.is_file():
        pytest.fail(f"no graphd binary at {binary}: build it with `cargo build -p graphd` or set GRAPHD_BIN")
    return binary


@pytest.fixture
def server_addr() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as data_dir:
        server = subprocess.Popen(
            [graphd_binary(), "--data-dir", data_dir, "serve", "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            first = server.stdout.readline().strip()
            if not first.startswith("graphd listening on "):
                server.kill()
                pytest.fail(f"graphd serve did not start: {first!r} {server.stderr.read()}")
            yield first.removeprefix("graphd listening on ")
        finally:
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0, server.stderr.read()

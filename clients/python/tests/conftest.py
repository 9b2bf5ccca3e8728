"""A real ``graphd serve`` on a free port, over a fresh data dir, for each test that asks."""

import contextlib
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


@contextlib.contextmanager
def serve(*args: str) -> Iterator[str]:
    """``graphd serve`` with ``args`` over a fresh data dir; yields its address."""
    with tempfile.TemporaryDirectory() as data_dir:
        command = [graphd_binary(), "--data-dir", data_dir, "serve", "--listen", "127.0.0.1:0", *args]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = server.stdout.readline().strip()
            if not first.startswith("graphd listening on "):
                server.kill()
                pytest.fail(f"graphd serve did not start: {first!r} {server.stderr.read()}")
            yield first.removeprefix("graphd listening on ")
        finally:
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0, server.stderr.read()


@pytest.fixture
def server_addr() -> Iterator[str]:
    with serve() as addr:
        yield addr


UNREACHABLE_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: "http://127.0.0.1:1"}}]
users: [{name: gone, user: {}}]
contexts: [{name: gone, context: {cluster: gone, user: gone}}]
current-context: gone
"""


@pytest.fixture
def scraping_server_addr(tmp_path: pathlib.Path) -> Iterator[str]:
    """A server configured to scrape a cluster nobody answers for."""
    (tmp_path / "gone.kubeconfig").write_text(UNREACHABLE_KUBECONFIG)
    config = tmp_path / "graphd.yaml"
    config.write_text("scrapers:\n  kubernetes:\n    - {name: gone, kubeconfig: gone.kubeconfig}\n")
    with serve("--config", str(config)) as addr:
        yield addr

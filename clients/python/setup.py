"""Generates graphd_client.v1 from proto/graphd/v1/*.proto before the package is built."""

import pathlib

from setuptools import setup

HERE = pathlib.Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto"
OUT = HERE / "src" / "graphd_client" / "v1"


def generate() -> None:
    from grpc_tools import protoc  # a build requirement, see pyproject.toml

    protos = sorted(PROTO_ROOT.glob("graphd/v1/*.proto"))
    if not protos:
        raise SystemExit(f"no .proto files under {PROTO_ROOT}/graphd/v1: build from a graphd checkout")
    staging = HERE / "build" / "proto-gen"
    staging.mkdir(parents=True, exist_ok=True)
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={staging}",
        f"--pyi_out={staging}",
        f"--grpc_python_out={staging}",
        *map(str, protos),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed on " + ", ".join(map(str, protos)))
    # protoc names modules after the proto package (graphd.v1); they live in graphd_client.v1.
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "__init__.py").write_text('"""Generated from proto/graphd/v1: the messages and stubs of graphd.v1."""\n')
    for generated in (staging / "graphd" / "v1").iterdir():
        text = generated.read_text().replace("from graphd.v1 import", "from graphd_client.v1 import")
        (OUT / generated.name).write_text(text)


# Every setuptools step (egg_info included) needs the package to exist: generate first.
generate()
setup()

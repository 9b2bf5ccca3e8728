"""A Python client for graphd: find items, walk the graph, watch it change.

:class:`Graphd` wraps the generated stubs of ``graphd.v1`` (in :mod:`graphd_client.v1`) with
typed methods; the messages are the generated ones, re-exported as :mod:`graphd_client.pb`.
"""

from graphd_client.client import Graphd, GraphdError, Watch, aws_key, custom_key, kubernetes_key
from graphd_client.v1 import graph_pb2 as pb

__all__ = ["Graphd", "GraphdError", "Watch", "aws_key", "custom_key", "kubernetes_key", "pb"]

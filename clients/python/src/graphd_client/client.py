"""A thin, typed wrapper over the generated graphd.v1 stubs."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Literal, Optional, Sequence, TypeVar, cast

import grpc

from graphd_client.v1 import graph_pb2 as pb
from graphd_client.v1 import graph_pb2_grpc as rpc

Direction = Literal["outgoing", "incoming", "both"]

_DIRECTIONS = {
    "outgoing": pb.DIRECTION_OUTGOING,
    "incoming": pb.DIRECTION_INCOMING,
    "both": pb.DIRECTION_BOTH,
}

# graphd's default message limit: a large walk or ingest batch fits.
_MAX_MESSAGE_BYTES = 16 << 20


class GraphdError(Exception):
    """A call graphd refused or could not answer.

    ``code`` is the gRPC status (``grpc.StatusCode.NOT_FOUND`` for an unknown id,
    ``INVALID_ARGUMENT`` naming the field, ``RESOURCE_EXHAUSTED`` for a walk over its limit);
    ``message`` is graphd's own explanation.
    """

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


T = TypeVar("T")


def _error(error: grpc.RpcError) -> GraphdError:
    # What the channel raises is also a grpc.Call, with the status.
    call = cast(grpc.Call, error)
    return GraphdError(call.code(), call.details() or "")


def _stream(responses: Iterable[T]) -> Iterator[T]:
    try:
        yield from responses
    except grpc.RpcError as error:
        if cast(grpc.Call, error).code() != grpc.StatusCode.CANCELLED:
            raise _error(error) from None


def kubernetes_key(cluster: str, uid: str) -> pb.ExternalKey:
    """The key of a Kubernetes object: its cluster and uid."""
    return pb.ExternalKey(kubernetes=pb.KubernetesKey(cluster=cluster, uid=uid))


def aws_key(account: str, region: str, resource_id: str) -> pb.ExternalKey:
    """The key of an AWS resource: account, region and resource id (``i-0abc…``)."""
    return pb.ExternalKey(aws=pb.AwsKey(account=account, region=region, resource_id=resource_id))


def custom_key(source: str, id: str) -> pb.ExternalKey:
    """The key of an item from a custom source."""
    return pb.ExternalKey(custom=pb.CustomKey(source=source, id=id))


class Graphd:
    """A connection to one graphd server.

    >>> with Graphd("127.0.0.1:7439") as graphd:            # doctest: +SKIP
    ...     pod = graphd.lookup(kind="Kubernetes::Pod", namespace="apps", name="web-1")[0]
    ...     for ancestor in graphd.walk_up(pod.id).ancestors:
    ...         print(ancestor.depth, ancestor.item.kind, ancestor.item.name)

    Item ids are ints; times are milliseconds since the Unix epoch. Every method raises
    :class:`GraphdError` when graphd refuses the call.
    """

    def __init__(self, addr: str, *, timeout: Optional[float] = 30.0) -> None:
        target = addr.split("://", 1)[-1]
        options = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
        ]
        self._channel = grpc.insecure_channel(target, options=options)
        self._timeout = timeout
        # The generated stubs, for anything the methods below leave out.
        self.query: Any = rpc.QueryServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self.ingest_service: Any = rpc.IngestServiceStub(self._channel)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Graphd":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _unary(self, method: Callable[..., Any], request: Any, returns: type[T]) -> T:
        try:
            return cast(T, method(request, timeout=self._timeout))
        except grpc.RpcError as error:
            raise _error(error) from None

    def get(self, id: int, *, include_deleted: bool = False, with_document: bool = False) -> pb.Item:
        """The item with ``id``; a tombstone only with ``include_deleted``."""
        request = pb.GetRequest(id=id, include_deleted=include_deleted, with_document=with_document)
        return self._unary(self.query.Get, request, pb.Item)

    def get_by_key(
        self, key: pb.ExternalKey, *, include_deleted: bool = False, with_document: bool = False
    ) -> pb.Item:
        """The item with an external key (see :func:`kubernetes_key`, :func:`aws_key`)."""
        request = pb.GetRequest(key=key, include_deleted=include_deleted, with_document=with_document)
        return self._unary(self.query.Get, request, pb.Item)

    def lookup(
        self,
        *,
        kind: str = "",
        name: str = "",
        namespace: str = "",
        cluster: str = "",
        short_id: str = "",
        include_deleted: bool = False,
    ) -> list[pb.Item]:
        """Items by natural name (kind, name, optional namespace and cluster), or by a short id
        such as an EC2 instance id or a Kubernetes uid."""
        request = pb.LookupRequest(
            kind=kind,
            name=name,
            namespace=namespace,
            cluster=cluster,
            short_id=short_id,
            include_deleted=include_deleted,
        )
        return list(self._unary(self.query.Lookup, request, pb.Items).items)

    def related(
        self,
        id: int,
        *,
        direction: Direction = "both",
        depth: int = 1,
        relations: Sequence[str] = (),
        kinds: Sequence[str] = (),
        include_deleted: bool = False,
        limit: int = 0,
    ) -> list[pb.RelatedHit]:
        """Items related to ``id`` within ``depth`` steps, breadth-first, never switching
        direction; each hit carries its depth and the edge it was reached by."""
        request = pb.RelatedRequest(
            id=id,
            direction=_DIRECTIONS[direction],
            depth=depth,
            relations=relations,
            kinds=kinds,
            include_deleted=include_deleted,
            limit=limit,
        )
        return list(self._unary(self.query.Related, request, pb.RelatedResponse).hits)

    def walk_up(self, id: int, *, include_deleted: bool = False) -> pb.WalkUpResponse:
        """The ancestors of ``id`` up to its roots, and the links between them."""
        request = pb.WalkUpRequest(id=id, include_deleted=include_deleted)
        return self._unary(self.query.WalkUp, request, pb.WalkUpResponse)

    def list_items(
        self,
        *,
        cluster: str = "",
        namespace: str = "",
        account: str = "",
        region: str = "",
        kind: str = "",
        labels: Optional[dict[str, str]] = None,
        include_deleted: bool = False,
        page_size: int = 500,
    ) -> Iterator[pb.Item]:
        """Every item that matches, fetched page by page as the iterator is consumed."""
        scope = pb.ScopeFilter(cluster=cluster, namespace=namespace, account=account, region=region)
        cursor = ""
        while True:
            request = pb.ListRequest(
                scope=scope,
                kind=kind,
                labels=labels or {},
                include_deleted=include_deleted,
                limit=page_size,
                cursor=cursor,
            )
            page = self._unary(self.query.List, request, pb.ListResponse)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def count_by_health(
        self, *, cluster: str = "", namespace: str = "", account: str = "", region: str = "", kind: str = ""
    ) -> pb.HealthCounts:
        """How many live items of a scope are healthy, warning, unhealthy or unknown."""
        scope = pb.ScopeFilter(cluster=cluster, namespace=namespace, account=account, region=region)
        request = pb.HealthCountsRequest(scope=scope, kind=kind)
        return self._unary(self.query.CountByHealth, request, pb.HealthCounts)

    def scrapers(self) -> list[pb.ScraperStatus]:
        """Each scraper the server runs: resources listed, objects, errors, the last sync."""
        response = self._unary(self.query.Scrapers, pb.ScrapersRequest(), pb.ScrapersResponse)
        return list(response.scrapers)

    def rescrape(self, name: str) -> None:
        """Asks the server to scrape the AWS source ``name`` (as :meth:`scrapers` lists it)
        again now, in every region. NOT_FOUND for an unknown source, FAILED_PRECONDITION for
        a Kubernetes cluster (watched live)."""
        self._unary(self.ingest_service.Rescrape, pb.RescrapeRequest(name=name), pb.RescrapeResponse)

    def path(
        self, from_id: int, to_id: int, *, relations: Sequence[str] = (), max_depth: int = 0
    ) -> pb.PathResponse:
        """The shortest path between two items, edges followed either way."""
        request = pb.PathRequest(to=to_id, relations=relations, max_depth=max_depth)
        setattr(request, "from", from_id)  # a Python keyword
        return self._unary(self.query.Path, request, pb.PathResponse)

    def changes(
        self, id: int, *, depth: int = 0, since_ms: int = 0, types: Sequence[str] = (), limit: int = 0
    ) -> list[pb.Change]:
        """Changes of ``id`` (and, with ``depth``, of everything within that many steps),
        newest first."""
        request = pb.ChangesRequest(id=id, depth=depth, since=since_ms, types=types, limit=limit)
        return list(self._unary(self.query.Changes, request, pb.ChangesResponse).changes)

    def watch_item(self, id: int, *, depth: int = 1) -> "Watch":
        """Changes to ``id`` and everything related to it within ``depth`` steps, as they
        happen. Returns once graphd is watching: every change committed after that arrives."""
        return Watch(self.query.Watch(pb.WatchRequest(item=id, depth=depth)))

    def watch_scope(
        self, *, cluster: str = "", namespace: str = "", account: str = "", region: str = ""
    ) -> "Watch":
        """Changes to the items of a scope, as they happen."""
        scope = pb.ScopeFilter(cluster=cluster, namespace=namespace, account=account, region=region)
        return Watch(self.query.Watch(pb.WatchRequest(scope=scope)))

    def ingest(self, batches: Iterable[pb.IngestRequest]) -> list[pb.IngestAck]:
        """Sends ``batches`` on one ingest stream; returns one acknowledgement per batch, in
        order. A rejected batch has ``applied`` false and says why in ``error``."""
        acks: Iterable[pb.IngestAck] = self.ingest_service.Ingest(iter(batches), timeout=self._timeout)
        return list(_stream(acks))


class Watch:
    """A running watch: iterate it for events (blocking until the next one); ``cancel()`` or
    leaving its ``with`` block ends it."""

    def __init__(self, call: Any) -> None:
        self._call = call  # a grpc.Call that is also an iterator of events
        # graphd answers with headers once it is subscribed: after this, no change is missed.
        try:
            call.initial_metadata()
        except grpc.RpcError as error:
            raise _error(error) from None

    def __iter__(self) -> Iterator[pb.WatchEvent]:
        return _stream(cast(Iterable[pb.WatchEvent], self._call))

    def cancel(self) -> None:
        self._call.cancel()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *_: object) -> None:
        self.cancel()

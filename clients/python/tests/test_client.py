"""The client against a real graphd: ingest a small graph, then get, lookup, related,
walk-up, list, path, changes and watch."""

import json
import queue
import threading
import time

import grpc
import pytest

from graphd_client import Graphd, GraphdError, kubernetes_key, pb


def upsert(uid: str, kind: str, name: str, namespace: str = "", document: dict = {}, status: str = "") -> pb.Operation:
    return pb.Operation(
        upsert=pb.ItemWrite(
            key=kubernetes_key("c1", uid),
            kind=kind,
            name=name,
            namespace=namespace,
            scope=pb.Scope(cluster="c1"),
            status=status,
            document_json=json.dumps(document),
        )
    )


def owned_by(kind: str, uid: str) -> dict:
    return {"metadata": {"namespace": "apps", "ownerReferences": [{"kind": kind, "uid": uid, "controller": True}]}}


def the_pod(status: str = "") -> pb.Operation:
    document = owned_by("ReplicaSet", "rs") | {"spec": {"nodeName": "n1"}}
    return upsert("pod", "Kubernetes::Pod", "web-5d78c-abcde", "apps", document, status)


SMALL_GRAPH = [
    upsert("ns", "Kubernetes::Namespace", "apps"),
    upsert("n1", "Kubernetes::Node", "n1"),
    upsert("deploy", "Kubernetes::Deployment", "web", "apps", {"metadata": {"namespace": "apps"}}),
    upsert("rs", "Kubernetes::ReplicaSet", "web-5d78c", "apps", owned_by("Deployment", "deploy")),
    the_pod(),
]


def batch(sequence: int, operations: list) -> pb.IngestRequest:
    return pb.IngestRequest(sequence=sequence, source="python-test", operations=operations)


def test_ingest_get_related_walk_up_and_watch(server_addr: str) -> None:
    with Graphd(server_addr) as graphd:
        (ack,) = graphd.ingest([batch(1, SMALL_GRAPH)])
        assert ack.applied, ack
        assert ack.created == 5

        (pod,) = graphd.lookup(kind="Kubernetes::Pod", namespace="apps", name="web-5d78c-abcde")
        assert graphd.get(pod.id, with_document=True).document_json.find("nodeName") > 0
        node = graphd.get_by_key(kubernetes_key("c1", "n1"))
        assert node.name == "n1"

        up = graphd.walk_up(pod.id)
        kinds = {a.item.kind for a in up.ancestors}
        assert {"Kubernetes::ReplicaSet", "Kubernetes::Deployment", "Kubernetes::Node", "Kubernetes::Namespace"} <= kinds
        assert any(l.child == pod.id and l.relation == "runs-on" and l.parent == node.id for l in up.links)

        hits = graphd.related(node.id, direction="incoming", depth=1)
        assert [h.item.id for h in hits] == [pod.id]
        assert hits[0].via.relation == "runs-on"

        in_apps = list(graphd.list_items(cluster="c1", namespace="apps", page_size=1))
        assert sorted(i.name for i in in_apps) == ["web", "web-5d78c", "web-5d78c-abcde"]
        assert graphd.count_by_health(cluster="c1").unknown == 5
        path = graphd.path(pod.id, node.id)
        assert [i.id for i in path.items] == [pod.id, node.id]

        # A watch on the node hears the pod's eviction, made after it subscribed.
        events: queue.Queue = queue.Queue()
        with graphd.watch_item(node.id, depth=1) as watch:
            threading.Thread(target=lambda: [events.put(e) for e in watch], daemon=True).start()
            (evicted,) = graphd.ingest([batch(2, [the_pod(status="Evicted")])])
            assert evicted.applied and evicted.updated == 1, evicted
            event = events.get(timeout=10)
        assert event.change.item == pod.id
        assert event.change.type == "Updated"
        assert event.item.status == "Evicted"
        assert [c.type for c in graphd.changes(pod.id)] == ["Updated", "Created"]


def test_errors_carry_code_and_message(server_addr: str) -> None:
    with Graphd(server_addr) as graphd:
        with pytest.raises(GraphdError) as missing:
            graphd.get(999_999)
        assert missing.value.code == grpc.StatusCode.NOT_FOUND
        assert missing.value.message == "no item with id 999999"
        with pytest.raises(GraphdError) as bad_kind:
            list(graphd.list_items(kind="Pod"))
        assert bad_kind.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert bad_kind.value.message.startswith("kind:")
        (rejected,) = graphd.ingest([batch(1, [upsert("x", "Pod", "x")])])
        assert not rejected.applied
        assert "operations[0].upsert.kind" in rejected.error


def test_unreachable_server() -> None:
    with Graphd("127.0.0.1:1", timeout=2) as graphd:
        with pytest.raises(GraphdError) as error:
            graphd.get(1)
        assert error.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def test_scrapers_report_an_unreachable_cluster(scraping_server_addr: str) -> None:
    with Graphd(scraping_server_addr) as graphd:
        deadline = time.monotonic() + 20
        while True:
            (gone,) = graphd.scrapers()
            if gone.errors > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert (gone.scraper, gone.name) == ("kubernetes", "gone")
        assert gone.errors > 0 and gone.last_error, gone
        assert gone.last_sync_at == 0 and gone.objects == 0
        with pytest.raises(GraphdError) as watched:
            graphd.rescrape("gone")
        assert watched.value.code == grpc.StatusCode.FAILED_PRECONDITION, watched.value
        with pytest.raises(GraphdError) as unknown:
            graphd.rescrape("nowhere")
        assert unknown.value.code == grpc.StatusCode.NOT_FOUND, unknown.value


def test_a_server_without_scrapers_lists_none(server_addr: str) -> None:
    with Graphd(server_addr) as graphd:
        assert graphd.scrapers() == []

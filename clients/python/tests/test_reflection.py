"""graphd described by itself: a client that knows no protos lists the services through
server reflection, resolves every method's request and response types, and calls one."""

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase


def test_reflection_describes_every_method(server_addr: str) -> None:
    with grpc.insecure_channel(server_addr) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {"graphd.v1.QueryService", "graphd.v1.IngestService", "grpc.health.v1.Health"} <= services

        pool = descriptor_pool.DescriptorPool(database)
        resolved = []
        for name in ("graphd.v1.QueryService", "graphd.v1.IngestService"):
            service = pool.FindServiceByName(name)
            for method in service.methods:
                for message in (method.input_type, method.output_type):
                    # A class built from the reflected descriptor alone, usable on the wire.
                    empty = message_factory.GetMessageClass(pool.FindMessageTypeByName(message.full_name))()
                    assert empty.SerializeToString() == b"", message.full_name
                resolved.append(method.name)
        assert sorted(resolved) == sorted(
            ["Get", "Lookup", "Related", "WalkUp", "List", "CountByHealth", "Path", "Changes", "Watch", "Scrapers", "Ingest", "Rescrape"]
        )

        # Call CountByHealth with messages built from the reflected descriptors alone.
        method = pool.FindServiceByName("graphd.v1.QueryService").methods_by_name["CountByHealth"]
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        call = channel.unary_unary(
            "/graphd.v1.QueryService/CountByHealth",
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
        counts = call(request_class(), timeout=10)
        assert counts.unknown == 0 and counts.DESCRIPTOR.full_name == "graphd.v1.HealthCounts"

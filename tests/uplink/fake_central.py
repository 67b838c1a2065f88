"""A small fake of the central platform's Upload side: stores events once by `event_id`, as the contract says.

`accept(batch)` is the logic (tests pass it to the uploader as `send` directly); `FakeCentral` also is a
`CentralPlatformServicer` for tests over real gRPC (`serve`, port 0). It can fail the next N calls before storing
(`fail`) or store a batch and then lose the ack (`lose_acks`: the agent sees UNAVAILABLE and sends it again).
"""

from __future__ import annotations

import gzip
import json
import threading
from typing import Any

import grpc

from fundguard.v1 import central_pb2 as pb
from fundguard.v1 import central_pb2_grpc as pb_grpc


class CentralDown(grpc.RpcError):
    """What the uploader sees from a central that does not answer (as a real channel raises)."""

    def code(self) -> grpc.StatusCode:
        """UNAVAILABLE."""
        return grpc.StatusCode.UNAVAILABLE


class FakeCentral(pb_grpc.CentralPlatformServicer):
    """Stores events by id; `stored` in first-arrival order, `received` counts every event seen (duplicates too)."""

    def __init__(self, *, fail: int = 0, lose_acks: int = 0) -> None:
        self.fail = fail
        self.lose_acks = lose_acks
        self.stored: dict[str, pb.Event] = {}
        self.received = 0
        self.duplicates = 0
        self.batches: list[tuple[str, str, int]] = []  # (agent_id, institution_code, count)
        self._lock = threading.Lock()

    def accept(self, batch: pb.UploadBatch) -> pb.UploadAck:
        """Decode and store a batch (the contract's Upload without the transport); raises CentralDown when told
        to fail, or after storing when told to lose the ack."""
        with self._lock:
            if self.fail > 0:
                self.fail -= 1
                raise CentralDown("central down")
            events = pb.EventList.FromString(gzip.decompress(batch.events_gzip)).events
            if len(events) != batch.count:
                raise ValueError(f"count: {batch.count} announced, {len(events)} sent")
            self.batches.append((batch.agent_id, batch.institution_code, batch.count))
            new = 0
            for event in events:
                self.received += 1
                if event.event_id in self.stored:
                    self.duplicates += 1
                else:
                    self.stored[event.event_id] = event
                    new += 1
            if self.lose_acks > 0:
                self.lose_acks -= 1
                raise CentralDown("ack lost")
            ids = [e.event_id for e in events]
            return pb.UploadAck(stored_ids=ids, new_events=new, duplicates=len(ids) - new)

    def Upload(self, request: pb.UploadBatch, context: grpc.ServicerContext) -> pb.UploadAck:
        """The gRPC method."""
        try:
            return self.accept(request)
        except CentralDown as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            raise  # unreachable: abort raises

    def payloads(self) -> list[dict[str, Any]]:
        """The stored events' payloads, in first-arrival order."""
        with self._lock:
            return [json.loads(e.payload_json) for e in self.stored.values()]


def serve(central: FakeCentral, credentials: grpc.ServerCredentials | None = None) -> tuple[grpc.Server, int]:
    """A started gRPC server on 127.0.0.1, a free port; (server, port)."""
    from concurrent import futures

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_CentralPlatformServicer_to_server(central, server)
    address = "127.0.0.1:0"
    port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    server.start()
    return server, port

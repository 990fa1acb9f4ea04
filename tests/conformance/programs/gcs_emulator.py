"""A Cloud Storage JSON API for one test process: the requests google-cloud-storage makes to
write, read and delete small objects, with generations and preconditions.

It answers what the real service answers for these calls (JSON API reference,
https://cloud.google.com/storage/docs/json_api/v1/objects): an object resource with `generation`
(a string of digits) and `timeCreated` (RFC 3339); 404 for a missing object; 412 when
`ifGenerationMatch` names another generation than the live one (0: "no live object"), per
https://cloud.google.com/storage/docs/request-preconditions. The client finds it through
`STORAGE_EMULATOR_HOST`, as it would find any emulator.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse


class Emulator:
    """Objects by (bucket, name): generation, data, creation time; started on a free port."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.next_generation = 1_700_000_000_000_000
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def age(self, seconds: float) -> None:
        """Makes every object `seconds` older."""
        with self.lock:
            for o in self.objects.values():
                o["created"] -= timedelta(seconds=seconds)

    def resource(self, bucket: str, name: str) -> dict:
        o = self.objects[(bucket, name)]
        created = o["created"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {
            "kind": "storage#object",
            "bucket": bucket,
            "name": name,
            "generation": str(o["generation"]),
            "metageneration": "1",
            "size": str(len(o["data"])),
            "timeCreated": created,
            "updated": created,
            "contentType": o["content_type"],
        }

    def precondition(self, bucket: str, name: str, query: dict) -> int | None:
        """The error status for a request's `ifGenerationMatch`, if it fails."""
        if "ifGenerationMatch" not in query:
            return None
        live = self.objects.get((bucket, name))
        return None if int(query["ifGenerationMatch"][0]) == (live["generation"] if live else 0) else 412


def _handler(emulator: Emulator):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _reply(self, status: int, body: dict | bytes | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/octet-stream" if isinstance(body, bytes) else "application/json"
            )
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            self._reply(status, {"error": {"code": status, "message": message, "errors": [{"message": message}]}})

        def _target(self):
            url = urlparse(self.path)
            emulator.requests.append(f"{self.command} {url.path}?{url.query}")
            query = parse_qs(url.query)
            parts = url.path.split("/")
            # /storage/v1/b/<bucket>/o/<name> or /download/storage/v1/b/<bucket>/o/<name>
            if "b" in parts and "o" in parts and parts.index("o") + 1 < len(parts):
                return parts[parts.index("b") + 1], unquote(parts[parts.index("o") + 1]), query, url.path
            return None, None, query, url.path

        def do_POST(self) -> None:
            bucket, _, query, path = self._target()
            if not path.startswith("/upload/storage/v1/b/") or query.get("uploadType") != ["multipart"]:
                return self._error(501, f"not emulated: POST {self.path}")
            bucket = path.split("/")[5]
            body = self.rfile.read(int(self.headers["Content-Length"]))
            head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
            message = BytesParser(policy=HTTP).parsebytes(head + body)
            meta_part, data_part = list(message.iter_parts())
            meta = json.loads(meta_part.get_content())
            data = data_part.get_payload(decode=True)
            with emulator.lock:
                status = emulator.precondition(bucket, meta["name"], query)
                if status:
                    return self._error(status, "At least one of the pre-conditions you specified did not hold.")
                emulator.next_generation += 1
                emulator.objects[(bucket, meta["name"])] = {
                    "generation": emulator.next_generation,
                    "data": data,
                    "content_type": meta.get("contentType") or data_part.get_content_type(),
                    "created": datetime.now(UTC),
                }
                self._reply(200, emulator.resource(bucket, meta["name"]))

        def _live(self, bucket: str, name: str, query: dict) -> dict | None:
            """The live object, or None after answering 404 (none) or 412 (a failed precondition)."""
            if (bucket, name) not in emulator.objects:
                self._error(404, f"No such object: {bucket}/{name}")
                return None
            status = emulator.precondition(bucket, name, query)
            if status:
                self._error(status, "At least one of the pre-conditions you specified did not hold.")
                return None
            return emulator.objects[(bucket, name)]

        def do_GET(self) -> None:
            bucket, name, query, path = self._target()
            with emulator.lock:
                o = self._live(bucket, name, query)
                if o is None:
                    return None
                if "generation" in query and int(query["generation"][0]) != o["generation"]:
                    return self._error(404, f"No such object: {bucket}/{name}#{query['generation'][0]}")
                if path.startswith("/download/") or query.get("alt") == ["media"]:
                    return self._reply(200, o["data"])
                self._reply(200, emulator.resource(bucket, name))

        def do_DELETE(self) -> None:
            bucket, name, query, _ = self._target()
            with emulator.lock:
                if self._live(bucket, name, query) is not None:
                    del emulator.objects[(bucket, name)]
                    self._reply(204)

    return Handler

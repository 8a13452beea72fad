"""A local stand-in for Cloudinary's Upload and Admin APIs, speaking their wire format (integrations.md §5.5).

The SDK is pointed at it with `cloudinary.config(upload_prefix="http://127.0.0.1:<port>")`. It checks the
request signatures like Cloudinary does (upload API: signed params; Admin API: Basic auth), stores uploads in
memory and signs its responses (public_id + version, signature v1) so `verify_api_response_signature` works.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote

import cloudinary.utils
from PIL import Image

API_KEY = "123456789012345"
API_SECRET = "fake-cloudinary-secret"
CLOUD_NAME = "dumuwaks-test"

_MAGIC = [
    (b"\xff\xd8\xff", "image", "jpg"),
    (b"\x89PNG", "image", "png"),
    (b"GIF8", "image", "gif"),
]


def _detect(data: bytes) -> tuple[str, str]:
    for prefix, rt, fmt in _MAGIC:
        if data.startswith(prefix):
            return rt, fmt
    if data[:4] == b"RIFF":
        return ("image", "webp") if data[8:12] == b"WEBP" else ("video", "avi")
    if data[4:8] == b"ftyp":
        return "video", "mov" if data[8:12] == b"qt  " else "mp4"
    return "raw", "bin"


def _parse_form(content_type: str, body: bytes) -> tuple[dict[str, list[str]], bytes | None]:
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields: dict[str, list[str]] = {}
        for key, value in parse_qsl(body.decode(), keep_blank_values=True):
            fields.setdefault(key, []).append(value)
        return fields, None
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields, file_data = {}, None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "file":
            file_data = payload
        else:
            fields.setdefault(name, []).append(payload.decode())
    return fields, file_data


class FakeCloudinary:
    def __init__(self):
        self.resources: dict[tuple[str, str], dict] = {}
        self.requests: list[dict] = []
        self.fail_uploads = False
        self._chunks: dict[str, bytes] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def cloudinary_url(self) -> str:
        return f"cloudinary://{API_KEY}:{API_SECRET}@{CLOUD_NAME}"

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def calls(self, action: str) -> list[dict]:
        return [r for r in self.requests if r["action"] == action]

    # --- behaviour ---
    def _check_signature(self, fields: dict[str, list[str]]) -> bool:
        params = {}
        for key, values in fields.items():
            if key in ("file", "api_key", "signature", "resource_type", "cloud_name"):
                continue
            if key.endswith("[]"):
                params[key[:-2]] = values
            else:
                params[key] = values[0]
        expected = cloudinary.utils.api_sign_request(params, API_SECRET, signature_version=2)
        return fields.get("signature", [""])[0] == expected and fields.get("api_key") == [API_KEY]

    def upload(self, resource_type: str, fields, data: bytes, headers) -> tuple[int, dict]:
        if not self._check_signature(fields):
            return 401, {"error": {"message": "Invalid Signature"}}
        if self.fail_uploads:
            return 500, {"error": {"message": "General Error"}}
        upload_id = headers.get("X-Unique-Upload-Id")
        if upload_id:  # chunked upload_large: keep chunks until the last range arrives
            self._chunks[upload_id] = self._chunks.get(upload_id, b"") + (data or b"")
            _, _, total = headers["Content-Range"].rpartition("/")
            if len(self._chunks[upload_id]) < int(total):
                return 200, {"done": False}
            data = self._chunks.pop(upload_id)
        rt, fmt = _detect(data or b"")
        if resource_type != "auto" and rt != resource_type:
            return 400, {"error": {"message": f"Invalid {resource_type} file"}}
        allowed = fields.get("allowed_formats", [""])[0]
        if allowed and fmt not in allowed.split(","):
            return 400, {"error": {"message": f"{fmt} format not allowed"}}
        folder = fields.get("folder", [""])[0]
        public_id = fields.get("public_id", [uuid.uuid4().hex[:20]])[0]
        if folder:
            public_id = f"{folder}/{public_id}"
        return 200, self.store(public_id=public_id, resource_type=rt, fmt=fmt, data=data)

    def store(self, *, public_id: str, resource_type: str, fmt: str, data: bytes) -> dict:
        version = int(time.time())
        base = f"http://res.cloudinary.com/{CLOUD_NAME}/{resource_type}/upload/v{version}/{public_id}.{fmt}"
        result = {
            "asset_id": uuid.uuid4().hex,
            "public_id": public_id,
            "version": version,
            "version_id": uuid.uuid4().hex,
            "signature": cloudinary.utils.api_sign_request(
                {"public_id": public_id, "version": version}, API_SECRET, signature_version=1
            ),
            "format": fmt,
            "resource_type": resource_type,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tags": [],
            "bytes": len(data),
            "type": "upload",
            "etag": uuid.uuid4().hex,
            "placeholder": False,
            "url": base,
            "secure_url": base.replace("http://", "https://"),
            "original_filename": "file",
        }
        if resource_type == "image":
            with Image.open(io.BytesIO(data)) as image:
                result["width"], result["height"] = image.size
        else:
            result.update(width=640, height=360, duration=3.5, frame_rate=30, is_audio=False)
        self.resources[(resource_type, public_id)] = result
        return result

    def destroy(self, resource_type: str, fields) -> tuple[int, dict]:
        if not self._check_signature(fields):
            return 401, {"error": {"message": "Invalid Signature"}}
        public_id = fields["public_id"][0]
        found = self.resources.pop((resource_type, public_id), None)
        return 200, {"result": "ok" if found else "not found"}

    def resource(self, resource_type: str, public_id: str, auth: str) -> tuple[int, dict]:
        expected = "Basic " + base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
        if auth != expected:
            return 401, {"error": {"message": "Invalid credentials"}}
        found = self.resources.get((resource_type, public_id))
        if found is None:
            return 404, {"error": {"message": f"Resource not found - {public_id}"}}
        return 200, found

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status: int, body: dict):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self):
                parts = self.path.strip("/").split("/")  # v1_1/<cloud>/<rt>/<action>
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fields, data = _parse_form(self.headers.get("Content-Type", ""), body)
                if len(parts) != 4 or parts[1] != CLOUD_NAME:
                    return self._reply(404, {"error": {"message": "Unknown API"}})
                resource_type, action = parts[2], parts[3]
                fake.requests.append(
                    {"action": action, "resource_type": resource_type, "fields": fields}
                )
                if action == "upload":
                    return self._reply(
                        *fake.upload(resource_type, fields, data, dict(self.headers.items()))
                    )
                if action == "destroy":
                    return self._reply(*fake.destroy(resource_type, fields))
                return self._reply(404, {"error": {"message": "Unknown action"}})

            def do_GET(self):
                path = unquote(self.path.split("?")[0]).strip("/")
                prefix = f"v1_1/{CLOUD_NAME}/resources/"
                if not path.startswith(prefix):
                    return self._reply(404, {"error": {"message": "Unknown API"}})
                resource_type, _, rest = path[len(prefix) :].partition("/")
                _, _, public_id = rest.partition("/")  # upload/<public_id>
                fake.requests.append(
                    {"action": "resource", "resource_type": resource_type, "public_id": public_id}
                )
                return self._reply(
                    *fake.resource(resource_type, public_id, self.headers.get("Authorization", ""))
                )

        return Handler

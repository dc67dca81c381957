"""A local stand-in for the OpenAI API, spoken to by the real `openai` client over HTTP.

It answers `POST /v1/chat/completions` the way the API does, with whatever the test scripted:

    with FakeOpenAI() as fake:
        fake.answer({"reinvestment": 70, "dao": 15, "lucky": 10, "creator": 5, ...})
        settings = Settings(openai_api_key="sk-test", openai_base_url=fake.base_url)
        ...
        fake.requests[-1]["body"]["messages"]  # what the client sent

Scripted replies: `answer(obj)` (a JSON object as the message content), `answer_content(text)`
(any content, e.g. malformed JSON), `refuse(text)`, `fail(status)` (an HTTP error with an
OpenAI-style error body), `hang(seconds)` (reply only after that long: past the client's timeout),
`answer_content(text, finish_reason="length")` (a cut-off answer). The last scripted reply
repeats until another is scripted. `on_request`, when set, is called (in the server's thread)
before each reply: a test can change the world while the client waits for the model.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Callable
from typing import Any


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._reply: dict[str, Any] = {"kind": "content", "content": "{}"}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.on_request: Callable[[], None] | None = None
        self.hook_errors: list[BaseException] = []

    # --- scripting --------------------------------------------------------------------------
    def answer(self, obj: dict[str, Any]) -> None:
        self.answer_content(json.dumps(obj))

    def answer_content(self, content: str, finish_reason: str = "stop") -> None:
        self._set({"kind": "content", "content": content, "finish_reason": finish_reason})

    def refuse(self, text: str) -> None:
        self._set({"kind": "refusal", "refusal": text})

    def fail(self, status: int, message: str = "The server had an error") -> None:
        self._set({"kind": "error", "status": status, "message": message})

    def hang(self, seconds: float) -> None:
        self._set({"kind": "hang", "seconds": seconds})

    def _set(self, reply: dict[str, Any]) -> None:
        with self._lock:
            self._reply = reply

    # --- lifecycle ----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "FakeOpenAI":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                with fake._lock:
                    fake.requests.append({"path": self.path,
                                          "headers": {k.lower(): v for k, v in self.headers.items()},
                                          "body": body})
                    reply = dict(fake._reply)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}",
                                               "type": "invalid_request_error"}})
                    return
                if fake.on_request is not None:
                    try:
                        fake.on_request()
                    except BaseException as error:  # noqa: BLE001 - reported to the test
                        fake.hook_errors.append(error)
                if reply["kind"] == "hang":
                    fake._stopping.wait(reply["seconds"])
                    reply = {"kind": "content", "content": "{}", "finish_reason": "stop"}
                if reply["kind"] == "error":
                    self._send(reply["status"], {"error": {"message": reply["message"],
                                                           "type": "server_error", "code": None}})
                    return
                message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
                if reply["kind"] == "refusal":
                    message["refusal"] = reply["refusal"]
                else:
                    message["content"] = reply["content"]
                self._send(200, {
                    "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", "fake-model"),
                    "choices": [{"index": 0, "finish_reason": reply.get("finish_reason", "stop"),
                                 "logprobs": None, "message": message}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Idempotent: a test may stop the fake early to make the API unreachable."""
        self._stopping.set()  # release any hanging reply at once
        if self._thread is not None and self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

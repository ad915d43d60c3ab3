"""A real OpenAI-style chat-completions server for the judge tests, with scripted faults.

Markers in a prompt choose the behaviour, per distinct prompt and attempt:
- `FAIL500xK`: the first K attempts answer HTTP 500;
- `SLOWxK`: the first K attempts wait `slow_seconds` before answering (longer than the client's timeout);
- `MALFORMEDxK`: the first K attempts answer 200 with a body that is not a chat completion;
- `TRUNCATEDxK`: the first K attempts stop at max_tokens (`finish_reason: length`, no verdict yet);
- `BAD400`: every attempt answers HTTP 400 (this prompt is refused; the endpoint is fine);
- the reply: `JUDGE_NO` -> "Verdict: no", `JUDGE_GARBAGE` -> no verdict at all, otherwise "Verdict: yes".
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_FAULT = re.compile(r"(FAIL500|SLOW|MALFORMED|TRUNCATED)x(\d+)")


class ChatServer:
    def __init__(self, slow_seconds: float = 1.0, status: int | None = None):
        self.slow_seconds = slow_seconds
        self.status = status  # answer every request with this HTTP status (e.g. 401)
        self.attempts: Counter = Counter()  # prompt -> requests received
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                with server._lock:
                    server.attempts[prompt] += 1
                    attempt = server.attempts[prompt]
                    server.requests.append({"path": self.path, "body": body,
                                            "auth": self.headers.get("Authorization")})
                if server.status is not None:
                    return self._send(server.status, b'{"error": "scripted"}')
                if "BAD400" in prompt:
                    return self._send(400, b'{"error": "prompt too long"}')
                for kind, k in _FAULT.findall(prompt):
                    if attempt <= int(k):
                        if kind == "FAIL500":
                            return self._send(500, b'{"error": "boom"}')
                        if kind == "SLOW":
                            time.sleep(server.slow_seconds)
                        if kind == "MALFORMED":
                            return self._send(200, b'{"choices": [' if attempt % 2 else b'{"choices": []}')
                        if kind == "TRUNCATED":
                            return self._reply(body, "Let me compare the two carefully. First", "length")
                if "JUDGE_NO" in prompt:
                    reply = "The reasoning counts 3 but the answer says 4.\nVerdict: no"
                elif "JUDGE_GARBAGE" in prompt:
                    reply = "I would rather talk about turtles."
                else:
                    reply = "The answer follows from the count.\nVerdict: yes"
                self._reply(body, reply, "stop")

            def _reply(self, body, reply, finish_reason):
                payload = {"id": "x", "object": "chat.completion", "model": body.get("model"),
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                        "finish_reason": finish_reason}]}
                self._send(200, json.dumps(payload).encode())

            def _send(self, code: int, data: bytes):
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ChatServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def total(self) -> int:
        return sum(self.attempts.values())

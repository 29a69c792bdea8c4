"""A SageMaker emulator on 127.0.0.1 that injects the faults the handler must survive.

It speaks SageMaker's JSON protocol (``X-Amz-Target: SageMaker.<Operation>``) over HTTP to a
real botocore client, keeps jobs with the semantics of ``FakeSageMaker`` and, on request:
- drops the answer to a call it has carried out (the client sees the connection close),
- answers 500 without doing anything,
- delays an answer (a read timeout, or a call still in flight when the deadline fires),
- lets reads lag writes (Describe and ListTags say "not found" for a while after a Create),
- throttles an operation with a token bucket (``ThrottlingException``), ListTrainingJobs
  included, which it pages as SageMaker does (``MaxResults``, ``NextToken``),
- and serves CloudFormation's response URL, failing the first PUTs if asked.

Time is a ``Clock``: real, or scaled so that minutes of throttling play out in seconds. The
handler is run unmodified; only its module's ``time`` is swapped for the same clock.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.exceptions import ClientError

from tests.conftest import handler_modules
from tests.fake_sagemaker import FakeSageMaker


class Clock:
    """Monotonic time running ``speed`` times faster than the wall clock; ``sleep`` likewise."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._start = time.monotonic()

    def monotonic(self) -> float:
        return 1000.0 + (time.monotonic() - self._start) * self.speed

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.speed)


@dataclass
class TokenBucket:
    """``rate`` requests per (clock) second, bursts of ``burst``: as SageMaker's API limits.

    It starts full, unless ``tokens`` says how many it starts with."""

    rate: float
    clock: Clock
    burst: float = 1.0
    tokens: float | None = None
    _at: float = field(init=False)

    def __post_init__(self) -> None:
        self._tokens = self.burst if self.tokens is None else self.tokens
        self._at = self.clock.monotonic()

    def take(self) -> bool:
        now = self.clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


@dataclass
class Faults:
    drop: Counter[str] = field(default_factory=Counter)  # carried out, answer lost
    fail: Counter[str] = field(default_factory=Counter)  # 500, nothing done
    delay: dict[str, list[float]] = field(default_factory=dict)  # wall seconds before each next answer
    throttle: dict[str, TokenBucket] = field(default_factory=dict)
    read_lag: float = 0.0  # clock seconds during which a new job cannot be read
    failing_puts: int = 0


@dataclass
class Received:
    at: float
    operation: str
    name: str | None
    outcome: str


class Emulator:
    """The emulated SageMaker and response URL; use as a context manager."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.sagemaker = FakeSageMaker()
        self.faults = Faults()
        self.received: list[Received] = []
        self.answers: list[tuple[float, dict[str, Any]]] = []
        self.puts = 0
        self._created_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def response_url(self, key: str = "response") -> str:
        return f"{self.endpoint}/cloudformation/{key}?X-Amz-Signature=secret"

    def __enter__(self) -> Emulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    # what the tests look at
    def calls(self, operation: str | None = None) -> list[Received]:
        return [r for r in self.received if operation is None or r.operation == operation]

    def running(self) -> list[str]:
        return self.sagemaker.running()

    def settle(self) -> None:
        """SageMaker's reads have caught up with every job created so far."""
        with self._lock:
            self._created_at.clear()

    def readable_at(self, name: str) -> float:
        """The clock time from which reads of ``name`` no longer lag."""
        return self._created_at.get(name, 0.0) + self.faults.read_lag

    # the service
    def _call(self, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any], bool, float]:
        """(HTTP status, body, whether to drop the answer, wall seconds to wait before answering)."""
        name = params.get("TrainingJobName") or str(params.get("ResourceArn", "")).rsplit("/", 1)[-1] or None
        with self._lock:
            bucket = self.faults.throttle.get(operation)
            if bucket is not None and not bucket.take():
                self.received.append(Received(self.clock.monotonic(), operation, name, "throttled"))
                return 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}, False, self._delay(operation)
            if self.faults.fail[operation] > 0:
                self.faults.fail[operation] -= 1
                self.received.append(Received(self.clock.monotonic(), operation, name, "500"))
                body = {"__type": "InternalFailure", "message": "We encountered an internal error."}
                return 500, body, False, self._delay(operation)
            lagging = (
                operation in ("DescribeTrainingJob", "ListTags")
                and name in self._created_at
                and self.clock.monotonic() - self._created_at[name] < self.faults.read_lag
            )
            try:
                if lagging:
                    raise ClientError(
                        {"Error": {"Code": "ValidationException", "Message": f"Requested resource not found: {name}"}},
                        operation,
                    )
                body = self._dispatch(operation, params)
                status, outcome = 200, "ok"
                if operation == "CreateTrainingJob":
                    self._created_at[str(name)] = self.clock.monotonic()
            except ClientError as error:
                status = 400
                body = {"__type": error.response["Error"]["Code"], "message": error.response["Error"]["Message"]}
                outcome = error.response["Error"]["Code"]
            drop = status == 200 and self.faults.drop[operation] > 0
            if drop:
                self.faults.drop[operation] -= 1
                outcome = "ok, answer dropped"
            self.received.append(Received(self.clock.monotonic(), operation, name, outcome))
            return status, body, drop, self._delay(operation)

    def _delay(self, operation: str) -> float:
        delays = self.faults.delay.get(operation)
        return delays.pop(0) if delays else 0.0

    def _dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """The fake's method of the same name (ListTrainingJobs pages as SageMaker does)."""
        method = getattr(self.sagemaker, "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_"))
        return _wire(method(**params))  # type: ignore[no-any-return]

    def _put(self, body: bytes) -> int:
        with self._lock:
            self.puts += 1
            if self.faults.failing_puts > 0:
                self.faults.failing_puts -= 1
                return 500
            self.answers.append((self.clock.monotonic(), json.loads(body)))
            return 200

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                return None

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status: int, payload: bytes, content_type: str = "application/x-amz-json-1.1") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    self.wfile.write(payload)

            def do_PUT(self) -> None:
                status = emulator._put(self._body())
                self._answer(status, b"", "text/plain")

            def do_POST(self) -> None:
                operation = str(self.headers.get("X-Amz-Target", "")).split(".")[-1]
                params = json.loads(self._body() or b"{}")
                status, body, drop, delay = emulator._call(operation, params)
                time.sleep(delay)
                if drop:  # the call was carried out; its answer never arrives
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self._answer(status, json.dumps(body).encode())

        return Handler


def _wire(value: Any) -> Any:
    """Timestamps as the JSON protocol carries them (epoch seconds)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


@contextmanager
def emulated(monkeypatch: Any, handler: Any, *, speed: float = 1.0) -> Iterator[Emulator]:
    """The emulator, with the handler's clients and clock pointed at it."""
    clock = Clock(speed)
    with Emulator(clock) as emulator:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", emulator.endpoint)
        for module in handler_modules():
            if hasattr(module, "time"):
                monkeypatch.setattr(module, "time", clock)
        yield emulator

"""The front door: hosts, origins, the workshop token, upload and queue limits per participant."""
from __future__ import annotations

import json

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ui.guard import (JOIN_PATH, UPLOAD_PATH, QueueLimits, RoomGuard, UploadBudget, allowed_hosts_for,
                      is_loopback)


async def echo(request):
    return JSONResponse({"body": (await request.body()).decode()})


def client(**options) -> TestClient:
    inner = Starlette(routes=[Route("/", echo, methods=["GET", "POST"]), Route(JOIN_PATH, echo, methods=["POST"]),
                              Route(UPLOAD_PATH, echo, methods=["POST"])])
    return TestClient(RoomGuard(inner, **options), base_url="http://room.local")


def test_unknown_hosts_are_refused_and_known_ones_served():
    guarded = client(allowed_hosts={"room.local"})
    assert guarded.get("/").status_code == 200
    refused = guarded.get("/", headers={"host": "evil.example"})
    assert refused.status_code == 421 and "Unknown host" in refused.json()["detail"]


def test_cross_origin_requests_are_refused_same_origin_served():
    guarded = client()
    assert guarded.get("/", headers={"origin": "http://room.local"}).status_code == 200
    refused = guarded.post("/", headers={"origin": "http://evil.example"})
    assert refused.status_code == 403 and "other web sites" in refused.json()["detail"]
    assert "access-control-allow-origin" not in refused.headers


def test_the_token_is_needed_once_in_the_link_then_a_cookie_carries_it():
    guarded = client(token="s3cret")
    assert guarded.get("/").status_code == 401
    assert guarded.get("/?token=wrong").status_code == 401
    first = guarded.get("/?token=s3cret")
    assert first.status_code == 200 and "pruning_lab_token" in first.headers["set-cookie"]
    assert guarded.get("/").status_code == 200                          # the cookie from the first visit


class FakeQueue:
    """Stands for the server's queue: every request let through waits until `start` is called."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def waiting(self, session: str, address: str) -> tuple[int, int]:
        return (sum(1 for s, _ in self.events if s == session), sum(1 for _, a in self.events if a == address))

    def start(self, session: str) -> None:
        self.events.remove(next(e for e in self.events if e[0] == session))


def joiner(queue: FakeQueue, **limits):
    guarded = client(queue=QueueLimits(queue.waiting, **limits))

    def join(session: str):
        response = guarded.post(JOIN_PATH, content=json.dumps({"session_hash": session, "data": [1]}))
        if response.status_code == 200:
            queue.events.append((session, "testclient"))
        return response
    return join


def test_a_session_may_have_only_a_few_requests_waiting():
    queue = FakeQueue()
    join = joiner(queue, per_session=3, per_address=10)
    assert [join("greedy").status_code for _ in range(3)] == [200, 200, 200]
    refused = join("greedy")
    assert refused.status_code == 429 and "requests waiting" in refused.json()["detail"]
    polite = join("polite")
    assert polite.status_code == 200                                     # others are not affected
    assert json.loads(polite.json()["body"])["data"] == [1]              # the body reaches the app intact
    queue.start("greedy")
    assert join("greedy").status_code == 200                             # one started: one may join


def test_an_address_with_many_sessions_is_capped_too():
    join = joiner(FakeQueue(), per_session=3, per_address=5)
    assert [join(f"s{i}").status_code for i in range(7)] == [200] * 5 + [429] * 2


def test_uploads_are_bounded_per_request_and_per_address():
    guarded = client(uploads=UploadBudget(per_request=1000, per_window=2500))
    assert guarded.post(UPLOAD_PATH, content=b"x" * 2000).status_code == 413
    assert [guarded.post(UPLOAD_PATH, content=b"x" * 900).status_code for _ in range(3)] == [200, 200, 413]


@pytest.mark.parametrize("host, loopback", [(None, True), ("127.0.0.1", True), ("localhost", True),
                                            ("0.0.0.0", False), ("192.0.2.7", False)])
def test_loopback_detection(host, loopback):
    assert is_loopback(host) is loopback


def test_allowed_hosts_include_this_machine_and_given_names(monkeypatch):
    monkeypatch.setenv("SPACE_HOST", "someone-lab.hf.space")
    hosts = allowed_hosts_for("0.0.0.0", ["lab.example.org"])
    assert {"127.0.0.1", "localhost", "lab.example.org", "someone-lab.hf.space"} <= hosts
    assert "0.0.0.0" not in hosts


# --- one bound on every request body: the queue's route, and every API route of the app --------------

def app_routes() -> list[str]:
    """Every POST route of the app that carries a request: queue/join, and call/<name>, call/v2/<name>,
    run/<name> and api/<name> for each API name that a client may call (public or undocumented)."""
    import app
    names = [d["api_name"] for d in app.demo.config["dependencies"]
             if d.get("api_name") and d.get("api_visibility") != "private"]
    assert {"update", "draw", "finetune", "export"} <= set(names)
    return [JOIN_PATH] + [f"/gradio_api/{prefix}/{name}" for name in names
                          for prefix in ("call", "call/v2", "run", "api")]


class Recorder:
    """An ASGI app that records the bodies it was given, behind a receive that counts what was read."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def post(path: str, chunks: list[bytes], declared: int | None) -> tuple[int, bytes, Recorder, int]:
    """(status, response body, the inner app, bytes the guard read) of one POST through RoomGuard."""
    import asyncio
    inner, sent, read = Recorder(), [], [0]
    queue = QueueLimits(lambda session, address: (0, 0))
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive() -> dict:
        message = pending.pop(0)
        read[0] += len(message["body"])
        return message

    async def send(message: dict) -> None:
        sent.append(message)
    headers = [(b"host", b"room.local")] + ([(b"content-length", str(declared).encode())] if declared else [])
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers, "query_string": b"",
             "client": ("198.51.100.7", 5000)}
    asyncio.run(RoomGuard(inner, queue=queue)(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), inner, read[0]


@pytest.fixture(scope="module")
def routes() -> list[str]:
    return app_routes()


def test_every_route_refuses_a_declared_body_over_the_limit_before_reading_it(routes):
    from ui.guard import MAX_BODY_BYTES
    for path in routes:
        status, body, inner, read = post(path, [b"x" * 100], declared=5 << 20)   # says 5 MB
        assert (status, read, inner.bodies) == (413, 0, []), path               # not one byte read
        assert "Request too large: at most 1 MB" in json.loads(body)["detail"]
        status, _, inner, _ = post(path, [b"y" * MAX_BODY_BYTES], declared=MAX_BODY_BYTES)
        assert status == 200 and inner.bodies == [b"y" * MAX_BODY_BYTES], path  # at the limit: served whole


def test_every_route_stops_reading_an_undeclared_body_at_the_limit(routes):
    from ui.guard import MAX_BODY_BYTES
    chunk = 256 << 10
    for path in routes:                                    # chunked, no Content-Length: 20 x 256 KB = 5 MB
        status, _, inner, read = post(path, [b"z" * chunk] * 20, declared=None)
        assert status == 413 and inner.bodies == [] and read <= MAX_BODY_BYTES + chunk, path
        status, _, inner, _ = post(path, [b"a" * 10, b"b" * 10], declared=None)
        assert status == 200 and inner.bodies == [b"a" * 10 + b"b" * 10], path


def test_the_app_behind_its_guard_refuses_a_5_mb_drawing_on_the_plain_call_route():
    import argparse

    import app
    from gradio.routes import App
    options = app.network_options(argparse.Namespace(host=None, token=None, password=None, allowed_host=[]))
    page = app.build_demo()                   # its own page: app.demo's queue is closed by tests that served it
    served = App.create_app(page, app_kwargs=dict(options["app_kwargs"]))
    with TestClient(served, base_url="http://127.0.0.1") as http:
        big = {"data": ["data:image/png;base64," + "A" * (5 << 20)]}
        refused = http.post("/gradio_api/call/draw", json=big)
        assert refused.status_code == 413 and "Request too large" in refused.json()["detail"]
        small = http.post("/gradio_api/call/draw", json={"data": [""]})
        assert small.status_code == 200 and "event_id" in small.json()

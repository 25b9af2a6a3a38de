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

"""The server's front door for a room: allowed hosts and origins, a workshop token, upload and queue limits."""
from __future__ import annotations

import asyncio
import hmac
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]
JOIN_PATH, UPLOAD_PATH = "/gradio_api/queue/join", "/gradio_api/upload"
TOKEN_COOKIE = "pruning_lab_token"
MAX_BODY_BYTES = 1 << 20        # a request carries settings and file references; files go to UPLOAD_PATH
TOO_LARGE = f"Request too large: at most {MAX_BODY_BYTES >> 20} MB (a drawing is a few KB; files go by upload)."


@dataclass
class QueueLimits:
    """How many requests one session, and one address, may have waiting in the queue; `waiting` reads
    the server's own queue: waiting(session, address) -> (waiting of that session, of that address)."""

    waiting: Callable[[str, str], tuple[int, int]]
    per_session: int = 3
    per_address: int = 100         # a room behind one NAT address is one address

    def refuse(self, session: str, address: str) -> str | None:
        """A message if a new request of `session` from `address` would be one too many, else None."""
        of_session, of_address = self.waiting(session, address)
        if of_session >= self.per_session:
            return (f"You already have {self.per_session} requests waiting: wait for them to finish "
                    "(moving a slider again replaces the pending update).")
        if of_address >= self.per_address:
            return f"Too many requests waiting from your address ({self.per_address}): try again shortly."
        return None


def gradio_queue_waiting(demo: Any) -> Callable[[str, str], tuple[int, int]]:
    """waiting(session, address) over a gradio app's queue (events not yet started)."""
    def waiting(session: str, address: str) -> tuple[int, int]:
        queue = getattr(demo, "_queue", None)
        events = [e for q in getattr(queue, "event_queue_per_concurrency_id", {}).values() for e in list(q.queue)]
        of_address = sum(1 for e in events if getattr(getattr(e.request, "client", None), "host", None) == address)
        return sum(1 for e in events if e.session_hash == session), of_address
    return waiting


@dataclass
class UploadBudget:
    """Bytes each address may upload per window (gradio's own limit is per file)."""

    per_request: int = 12 << 20
    per_window: int = 60 << 20
    window_s: float = 600.0
    _sent: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, address: str, size: int | None) -> str | None:
        """Charge `size` bytes to `address`; a message if the request or the window would be too large."""
        if size is None:
            return "Uploads must say their size (Content-Length)."
        if size > self.per_request:
            return f"Upload too large: at most {self.per_request >> 20} MB per request."
        now = time.monotonic()
        with self._lock:
            sent = self._sent[address]
            while sent and now - sent[0][0] > self.window_s:
                sent.popleft()
            if sum(n for _, n in sent) + size > self.per_window:
                return f"Upload limit reached ({self.per_window >> 20} MB per {self.window_s / 60:.0f} minutes)."
            sent.append((now, size))
        return None


UPLOADS = UploadBudget()


class RoomGuard:
    """ASGI middleware. allowed_hosts: Host header values accepted (None: any); same_origin: a request
    with an Origin header must come from the page's own host; token: required as ?token= once (then a
    cookie) on every request."""

    def __init__(self, app: ASGIApp, allowed_hosts: set[str] | None = None, same_origin: bool = True,
                 token: str | None = None, queue: QueueLimits | None = None,
                 uploads: UploadBudget = UPLOADS) -> None:
        self.app, self.allowed_hosts, self.same_origin, self.token = app, allowed_hosts, same_origin, token
        self.queue, self.uploads = queue, uploads
        self._join_lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        address = (scope.get("client") or ("unknown", 0))[0]
        refusal, set_cookie = self._check_door(scope, headers)
        if refusal is None and scope["type"] == "http" and scope["method"] == "POST":
            if scope["path"].endswith(UPLOAD_PATH):
                length = headers.get("content-length")
                refusal = self.uploads.admit(address, int(length) if length and length.isdigit() else None)
                refusal = refusal and (413, refusal)
            else:                      # every other route (queue/join, call/<name>, run/<name>...): one bound
                receive, body, refusal = await read_bounded(receive, headers)
                if refusal is None and scope["path"].endswith(JOIN_PATH) and self.queue is not None:
                    return await self._join(scope, receive, _with_cookie(send, self.token) if set_cookie else send,
                                            address, body)
        if refusal is not None:
            return await _refuse(scope, receive, send, *refusal)
        if set_cookie:
            send = _with_cookie(send, self.token)
        await self.app(scope, receive, send)

    async def _join(self, scope: Scope, receive: Callable, send: Callable, address: str, body: bytes) -> None:
        """A request joining the queue (its body already read, within the bound): counted and passed on
        under one lock, so that concurrent joins of one session each see the ones before them in the queue."""
        try:
            session = str(json.loads(body).get("session_hash") or "")[:128]
        except (ValueError, AttributeError):
            session = ""
        async with self._join_lock:
            refusal = None
            if session:
                message = self.queue.refuse(session, address)
                refusal = message and (429, message)
            if refusal is not None:
                return await _refuse(scope, receive, send, *refusal)
            await self.app(scope, receive, send)

    def _check_door(self, scope: Scope, headers: dict[str, str]) -> tuple[tuple[int, str] | None, bool]:
        host = headers.get("host", "")
        if self.allowed_hosts is not None and host.rsplit(":", 1)[0].strip("[]") not in self.allowed_hosts:
            return (421, f"Unknown host {host[:80]!r}: open the address the workshop leader gave."), False
        origin = headers.get("origin")
        if self.same_origin and origin and urlsplit(origin).netloc != host:
            return (403, "Requests from other web sites are not allowed."), False
        if self.token is None:
            return None, False
        cookie = SimpleCookie(headers.get("cookie", ""))
        given = cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else None
        in_link = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [None])[0]
        if given is not None and hmac.compare_digest(given, self.token):
            return None, False
        if in_link is not None and hmac.compare_digest(in_link, self.token):
            return None, True
        return (401, "This workshop needs its link with the token: ask the workshop leader."), False


async def read_bounded(receive: Callable, headers: dict[str, str],
                       limit: int = MAX_BODY_BYTES) -> tuple[Callable, bytes, tuple[int, str] | None]:
    """(a receive that replays the body, the body, a refusal if it is over `limit` bytes). A declared
    Content-Length over the limit is refused before one byte is read; a body without one is read only
    up to the limit."""
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        return receive, b"", (413, TOO_LARGE)
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > limit:
            return receive, b"", (413, TOO_LARGE)
    replayed = False

    async def replay() -> dict:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay, body, None


async def _refuse(scope: Scope, receive: Callable, send: Callable, status: int, message: str) -> None:
    if scope["type"] == "websocket":
        return await send({"type": "websocket.close", "code": 1008})
    body = json.dumps({"detail": message, "error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _with_cookie(send: Callable, token: str) -> Callable:
    async def sending(message: dict) -> None:
        if message["type"] == "http.response.start":
            cookie = f"{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict".encode()
            message = {**message, "headers": list(message.get("headers", [])) + [(b"set-cookie", cookie)]}
        await send(message)
    return sending


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def is_loopback(host: str | None) -> bool:
    """Whether serving on `host` is reachable from this machine only (None: gradio's default, 127.0.0.1)."""
    return host is None or host in LOOPBACK or host.startswith("127.")


def allowed_hosts_for(host: str, extra: list[str] | None = None) -> set[str]:
    """Host names a browser may use to reach a server bound to `host`: this machine's names and
    addresses, a Hugging Face Space's own host, and any given ones."""
    import os
    import socket
    names = set(LOOPBACK) | set(extra or ())
    if host not in ("0.0.0.0", "::"):
        names.add(host)
    hostname = socket.gethostname()
    names |= {hostname, socket.getfqdn(hostname)}
    try:
        names |= set(socket.gethostbyname_ex(hostname)[2])
    except OSError:
        pass
    if os.environ.get("SPACE_HOST"):
        names.add(os.environ["SPACE_HOST"])
    return names

"""A light participant for room benchmarks: Gradio's queue protocol (join, then the session's event stream)
over one shared asyncio HTTP client, so a hundred participants cost the load generator little CPU and the
server gets the cores it would get in a real room (gradio_client starts threads per client and call)."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx


class CallFailed(RuntimeError):
    """The server answered an event with an error (its message), or the stream ended without an answer."""


@dataclass
class Endpoints:
    """The app's named events: fn index and the inputs' initial values, read once from /config."""

    root: str
    fn_index: dict[str, int] = field(default_factory=dict)
    defaults: dict[str, list] = field(default_factory=dict)

    @classmethod
    async def read(cls, http: httpx.AsyncClient, root: str) -> "Endpoints":
        config = (await http.get(root + "config")).json()
        values = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
        found = cls(root)
        for dependency in config["dependencies"]:
            name = dependency.get("api_name")
            if name and name not in found.fn_index:
                found.fn_index["/" + name] = dependency["id"]
                found.defaults["/" + name] = [values.get(i) for i in dependency["inputs"]]
        return found


@dataclass
class Participant:
    """One page: its own session hash and address (X-Forwarded-For: uvicorn trusts it from 127.0.0.1)."""

    http: httpx.AsyncClient
    endpoints: Endpoints
    address: str
    session_hash: str = field(default_factory=lambda: uuid.uuid4().hex[:11])

    async def call(self, api_name: str, data: list) -> list:
        """Join the queue with `data`, read the session's stream until this event completes: its outputs."""
        headers = {"X-Forwarded-For": self.address}
        root = self.endpoints.root + "gradio_api/"
        body = {"data": data, "fn_index": self.endpoints.fn_index[api_name], "session_hash": self.session_hash,
                "event_data": None, "trigger_id": None}
        joined = await self.http.post(root + "queue/join", json=body, headers=headers)
        if joined.status_code != 200:
            raise CallFailed(f"join: HTTP {joined.status_code} {joined.text[:200]}")
        event_id = joined.json()["event_id"]
        async with self.http.stream("GET", root + "queue/data", params={"session_hash": self.session_hash},
                                    headers=headers) as stream:
            async for line in stream.aiter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") != event_id or message.get("msg") != "process_completed":
                    continue
                output = message.get("output") or {}
                if not message.get("success"):
                    raise CallFailed(str(output.get("error") or output)[:300])
                return output.get("data", [])
        raise CallFailed("the event stream ended before the event completed")


def client(timeout_s: float) -> httpx.AsyncClient:
    """One HTTP client for every participant (a connection pool, as many browsers' sockets)."""
    return httpx.AsyncClient(timeout=timeout_s, limits=httpx.Limits(max_connections=None,
                                                                    max_keepalive_connections=None))


def argument_list(values: dict[str, Any], defaults: list) -> list:
    """An event's arguments: `values` first (in order), then the defaults of the inputs after them."""
    given = list(values.values())
    return given[:len(defaults)] + defaults[len(given):]

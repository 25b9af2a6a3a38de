"""Workshop mode over HTTP, behind the front door: presenter endpoints refuse without the secret, submissions bounded."""
from __future__ import annotations

import argparse

import httpx
import pytest
from gradio_client import Client

from tests.ui_helpers import api_args, free_port
from ui import handlers, presenter
from ui.room_state import ROOM

pytestmark = pytest.mark.slow
SECRET = "http-presenter-secret"
PRESENTER_ACTIONS = {"room_view": ["lenet"], "room_start_challenge": ["lenet", presenter.RULE_LABELS["accuracy"], 90, []],
                     "room_stop_challenge": [], "room_reset_room": [],
                     "room_send_setting": api_args() + ["2:4", ""]}


@pytest.fixture(scope="module")
def served():
    """app.demo behind ui.guard as `python app.py --presenter-token SECRET` serves it; (url, fn indices)."""
    import app
    options = app.network_options(argparse.Namespace(host=None, token=None, password=None, allowed_host=[]))
    presenter.configure(SECRET)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(handlers.SESSIONS, "new_per_minute", 10_000)
        _, url, _ = app.demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                                    quiet=True, **options, **app.LAUNCH_OPTIONS)
        try:
            yield url, {fn.api_name: index for index, fn in app.demo.fns.items()}
        finally:
            app.demo.close()
            presenter.configure(None)
            ROOM.reset(presence=True)


def call(url: str, fn_index: int, data: list, session: str = "http-test", query: str = "") -> httpx.Response:
    return httpx.post(f"{url}gradio_api/run/predict{query}", json={"data": data, "fn_index": fn_index,
                                                                   "session_hash": session}, timeout=60)


@pytest.mark.parametrize("query", ["", "?presenter=", "?presenter=wrong", f"?presenter={SECRET[:-1]}",
                                   f"?token={SECRET}"])
def test_presenter_endpoints_refuse_without_the_secret(served, query):
    url, index = served
    ROOM.reset(presence=True)
    ROOM.start_challenge("lenet", "accuracy", 0.5)
    before = (ROOM.challenge, ROOM.sent, ROOM.version)
    for name, data in PRESENTER_ACTIONS.items():
        answer = call(url, index[name], data, query=query)
        assert answer.status_code >= 400 and "Only the presenter" in answer.text, (name, answer.text[:200])
    assert (ROOM.challenge, ROOM.sent, ROOM.version) == before


def test_the_gradio_client_cannot_act_as_presenter(served):
    url, _ = served
    client = Client(url, verbose=False)
    ROOM.reset(presence=True)
    with pytest.raises(Exception, match="Only the presenter"):
        client.predict(api_name="/room_reset_room")
    with pytest.raises(Exception, match="Only the presenter"):
        client.predict("lenet", presenter.RULE_LABELS["accuracy"], 10, [], api_name="/room_start_challenge")
    assert ROOM.challenge is None


def test_with_the_secret_the_presenter_acts(served):
    url, index = served
    ROOM.reset(presence=True)
    answer = call(url, index["room_start_challenge"], PRESENTER_ACTIONS["room_start_challenge"],
                  query=f"?presenter={SECRET}")
    assert answer.status_code == 200 and ROOM.challenge is not None and ROOM.challenge.target == 0.9
    answer = call(url, index["room_send_setting"], api_args(amount=0.8) + ["2:4", ""], query=f"?presenter={SECRET}")
    assert answer.status_code == 200 and "amount=0.8" in ROOM.sent.query and SECRET not in ROOM.sent.query


def test_a_thousand_rapid_submissions_over_http_are_bounded(served):
    url, index = served
    client = Client(url, verbose=False)
    client.predict(*api_args(amount=0.6), api_name="/update")          # this session's measured result
    ROOM.reset(presence=True)
    ROOM.start_challenge("lenet", "accuracy", 0.5)
    with httpx.Client(timeout=60) as http:
        answers = [http.post(f"{url}gradio_api/run/predict",
                             json={"data": [f"n{i}"], "fn_index": index["room_submit"],
                                   "session_hash": client.session_hash}).json()["data"][0] for i in range(1000)]
    assert sum("Submitted" in a for a in answers) == 1 and len(ROOM.entries) == 1
    assert all("One submission per" in a for a in answers[1:])
    session = handlers.SESSIONS.peek(client.session_hash)
    entry = ROOM.entries[client.session_hash]
    assert (entry.sparsity, entry.accuracy) == (session.result.global_sparsity, session.result.accuracy_after)
    forged = call(url, index["room_submit"], ["x", 1.0, 1.0], session="forger")     # extra values are not read
    assert ROOM.entries.keys() == {client.session_hash}, forged.text[:200]


def test_an_idle_page_keeps_no_connection_open():
    """A gr.State (or an unload event) makes Gradio hold a heartbeat stream open for every page; a browser
    opens at most 6 connections to one host over HTTP/1.1, so with one held per tab the 5th tab of the
    app never loaded (test_browser_room opens 7). The room's page state is kept in the page instead."""
    import app
    assert app.demo.config["connect_heartbeat"] is False
    assert app.build_demo().config["connect_heartbeat"] is False

"""The participant's side: submissions from the server's own measurement, bounded; banners; "Apply"."""
from __future__ import annotations

import uuid

import gradio as gr
import pytest

from tests.ui_helpers import new_request, run
from ui import banners, handlers, links, presenter
from ui.room_state import ROOM

SECRET = "banner-test-secret"


@pytest.fixture
def room():
    presenter.configure(SECRET)
    ROOM.reset(presence=True)
    yield ROOM
    presenter.configure(None)
    ROOM.reset(presence=True)


def test_a_submission_is_the_result_the_server_measured_for_this_page(room):
    room.start_challenge("lenet", "accuracy", 0.5)
    page = run(amount=0.6)
    message, board = banners.submit("  Ada  ", request=page["request"])
    result = handlers.existing_session(page["request"]).result
    entry = room.entries[page["request"].session_hash]
    assert (entry.sparsity, entry.accuracy, entry.nickname) == (result.global_sparsity, result.accuracy_after, "Ada")
    assert "Submitted as “Ada”" in message and f"{100 * result.global_sparsity:.2f}%" in board
    assert 'class="pl-me"' in board


def test_without_a_result_or_a_challenge_nothing_is_submitted(room):
    message, _ = banners.submit("x", request=new_request())
    assert "Prune a model first" in message
    message, _ = banners.submit("x", request=run()["request"])
    assert "no open challenge" in message and room.entries == {}


def test_a_nickname_with_html_is_text_everywhere(room):
    room.start_challenge("lenet", "accuracy", 0.5)
    message, board = banners.submit('<img src=x onerror="alert(1)">', request=run()["request"])
    for html_text in (message, board):
        assert "<img" not in html_text and "&lt;img src=x" in html_text


def test_a_thousand_rapid_submissions_from_a_page_put_one_entry_on_the_board(room):
    room.start_challenge("lenet", "accuracy", 0.5)
    request = run()["request"]
    messages = [banners.submit(f"n{i}", request=request)[0] for i in range(1000)]
    assert sum("Submitted" in m for m in messages) == 1 and len(room.entries) == 1
    assert all("One submission per" in m for m in messages[1:])


def test_the_poll_counts_the_page_and_sends_banners_only_when_the_room_changed(room):
    request = new_request()
    first = banners.poll(dict(banners.FRESH), request=request)
    assert request.session_hash in room.active()
    state = first[-1]
    assert all(out is gr.skip() or out == gr.skip() for out in banners.poll(state, request=request))
    room.send("model=lenet&method=ln_structured&amount=0.3&scope=local")
    sent_box, sent, challenge_box, *_ = banners.poll(state, request=request)
    assert sent_box["visible"] is True and challenge_box["visible"] is False and "ln_structured" in sent
    lead = gr.Request(session_hash=f"lead-{uuid.uuid4().hex[:6]}", query_params={"presenter": SECRET})
    banners.poll(dict(banners.FRESH), request=lead)
    assert lead.session_hash not in room.active()                  # the presenter is not a participant


def test_apply_sets_the_controls_to_what_the_presenter_sent(room):
    state = dict(banners.FRESH)
    nothing = banners.apply_sent(state, request=new_request())
    assert nothing[-1]["applied"] == 0
    room.send("model=mlp&method=ln_structured&amount=0.3&scope=local&layer_types=conv,linear")
    out = banners.apply_sent(state, request=new_request())
    controls = dict(zip(links.CONTROLS, out[:len(links.CONTROLS)]))
    assert controls["model"]["value"] == "mlp" and controls["amount"]["value"] == 0.3
    assert controls["scope"]["value"] == "local" and controls["method"]["value"] == "ln_structured"
    assert out[-1]["applied"] == room.sent.number and "applied" in out[-2]


def test_participant_pages_poll_only_in_workshop_mode(room):
    assert banners.start(new_request()).active is True
    assert banners.start(gr.Request(session_hash="p", query_params={"presenter": SECRET})).active is False
    presenter.configure(None)
    assert banners.start(new_request()).active is False


@pytest.mark.parametrize("sent_back", [None, "x", [], {"version": "3", "applied": 2.5}, {"applied": True},
                                       {"version": 7, "applied": "9", "extra": {"a": 1}}])
def test_a_page_state_that_is_not_whole_numbers_reads_as_fresh(room, sent_back):
    """The page keeps its own state and sends it back with each tick: whatever it sends, nothing breaks."""
    state = banners.page_state(sent_back)
    assert set(state) == set(banners.FRESH) and all(type(v) is int for v in state.values())
    if isinstance(sent_back, dict) and sent_back.get("version") == 7:
        assert state == {"version": 7, "applied": 0}
    room.send("model=lenet&method=ln_structured&amount=0.3&scope=local")
    out = banners.poll(sent_back, request=new_request())
    assert out[0]["visible"] is True and "ln_structured" in out[1] and out[-1]["applied"] == state["applied"]
    assert banners.apply_sent(sent_back, request=new_request())[-1]["applied"] == room.sent.number

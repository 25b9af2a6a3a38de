"""The presenter's actions: refused without the secret, and the room view built from the sessions' measured results."""
from __future__ import annotations

import uuid
from urllib.parse import parse_qsl

import gradio as gr
import pytest

from tests.ui_helpers import DEFAULTS, new_request, run
from ui import handlers, links, presenter, workshop
from ui.room_state import ROOM

SECRET = "s3cret-for-tests"


@pytest.fixture
def lead(monkeypatch):
    """Workshop mode on, an empty room; the presenter's request."""
    presenter.configure(SECRET)
    ROOM.reset(presence=True)
    yield gr.Request(session_hash=f"lead-{uuid.uuid4().hex[:8]}", client={"host": "lead"},
                     query_params={"presenter": SECRET})
    presenter.configure(None)
    ROOM.reset(presence=True)


def asking(secret: str | None) -> gr.Request:
    params = {} if secret is None else {"presenter": secret}
    return gr.Request(session_hash=f"x-{uuid.uuid4().hex[:8]}", client={"host": "x"}, query_params=params)


def setting(**changes) -> list:
    values = {**DEFAULTS, "nm": "2:4", "layer_amounts": "", **changes}
    return [values[name] for name in links.CONTROLS]


def test_the_secret_is_compared_whole_and_never_guessed_empty(lead):
    assert presenter.is_presenter(lead)
    for request in (asking(None), asking(""), asking(SECRET[:-1]), asking(SECRET + "x"), asking(SECRET.upper()),
                    new_request(), None):
        assert not presenter.is_presenter(request)
    presenter.configure(None)
    assert not presenter.is_presenter(lead) and not presenter.enabled()     # no secret set: nobody is presenter


@pytest.mark.parametrize("secret", [None, "", "wrong"])
def test_every_presenter_action_is_refused_without_the_secret(lead, secret):
    request = asking(secret)
    actions = [lambda: presenter.refresh("lenet", request=request),
               lambda: presenter.start_challenge("lenet", presenter.RULE_LABELS["accuracy"], 90, [], request=request),
               lambda: presenter.stop_challenge(request=request),
               lambda: presenter.send_setting(*setting(), request=request),
               lambda: presenter.reset_room(request=request)]
    ROOM.start_challenge("lenet", "accuracy", 0.5)
    before = (ROOM.challenge, ROOM.sent, ROOM.version)
    for action in actions:
        with pytest.raises(gr.Error, match="Only the presenter"):
            action()
    assert (ROOM.challenge, ROOM.sent, ROOM.version) == before
    shown = workshop.open_presenter(request)
    assert shown[0]["visible"] is False and shown[1].active is False           # the page stays a participant's


def test_the_room_view_shows_each_active_participant_at_its_measured_values(lead):
    pages = [run(amount=0.3), run(amount=0.7, method="random_unstructured"), run(model="mlp", amount=0.5)]
    for page in pages:
        ROOM.seen(page["request"].session_hash)
    run(amount=0.9)                                                # pruned, but its page never polled: not counted
    _, plot, summary, _ = presenter.refresh("lenet", request=lead)
    for page in pages[:2]:
        result = handlers.existing_session(page["request"]).result
        assert f'data-sparsity="{result.global_sparsity:.6f}" data-accuracy="{result.accuracy_after:.6f}"' in plot
    assert plot.count('class="pl-room-point"') == 2
    assert '<b id="pl-room-active">3</b> active' in summary and "1 on other models" in summary


def test_the_presenter_starts_stops_sends_and_resets(lead):
    with pytest.raises(gr.Error, match="Pick a model"):
        presenter.start_challenge("resnet9000", presenter.RULE_LABELS["accuracy"], 90, [], request=lead)
    with pytest.raises(gr.Error, match="Unknown method"):
        presenter.start_challenge("lenet", presenter.RULE_LABELS["accuracy"], 90, ["bogus"], request=lead)
    with pytest.raises(gr.Error, match="Not started"):
        presenter.start_challenge("lenet", presenter.RULE_LABELS["accuracy"], 250, [], request=lead)
    text = presenter.start_challenge("lenet", presenter.RULE_LABELS["sparsity"], 90, ["gradient"], request=lead)
    assert "global sparsity ≥ 90.00%" in text and ROOM.challenge.methods == ("gradient",)
    presenter.stop_challenge(request=lead)
    assert not ROOM.challenge.open
    message = presenter.send_setting(*setting(method="ln_structured", amount=0.3, scope="local"), request=lead)
    assert "presenter" not in ROOM.sent.query and SECRET not in message
    values, notes = links.read_link(dict(parse_qsl(ROOM.sent.query)))
    assert notes == [] and (values["method"], values["amount"], values["scope"]) == ("ln_structured", 0.3, "local")
    with pytest.raises(gr.Error, match="Not sent"):
        presenter.send_setting(*setting(amount=3.0), request=lead)
    presenter.reset_room(request=lead)
    assert ROOM.challenge is None and ROOM.sent is None
    shown = workshop.open_presenter(lead)
    assert shown[0]["visible"] is True and shown[1].active is True

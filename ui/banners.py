"""The participant's side of a workshop: the challenge banner with "Submit", the sent setting with "Apply"."""
from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qsl

import gradio as gr

from ui import handlers, links, presenter
from ui.room_state import ROOM, Entry, RoomRefused, clean_nickname, MAX_NICKNAME
from ui.room_views import challenge_text, leaderboard_html, own_entry, sent_banner

POLL_S = 4.0            # a participant's page asks for the room's news this often (workshop mode only)
BOARD_ROWS = 10         # rows of the board a participant sees
FRESH = {"version": -1, "applied": 0}


def page_state(state: Any) -> dict:
    """What the page says it has seen of the room ({"version", "applied"}, whole numbers), kept in the page
    and sent back with each tick: anything else in it, or anything that is not a number, reads as fresh."""
    sent_back = state if isinstance(state, dict) else {}
    return {name: sent_back[name] if type(sent_back.get(name)) is int else fresh for name, fresh in FRESH.items()}


def _key(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"


def banners(state: dict, request: gr.Request | None) -> tuple:
    """Every banner output for this page: (sent box, sent text, challenge box, challenge text, board, state)."""
    key, challenge, sent = _key(request), ROOM.challenge, ROOM.sent
    board = ROOM.leaderboard(BOARD_ROWS)
    link = "?" + sent.query if sent else ""
    mine = ROOM.entries.get(key)
    return (gr.update(visible=sent is not None), sent_banner(sent, state["applied"], link),
            gr.update(visible=challenge is not None), challenge_text(challenge),
            leaderboard_html(board, challenge, key) + own_entry(mine, challenge, board),
            {**state, "version": ROOM.version})


def poll(state: Any, request: gr.Request | None = None) -> tuple:
    """The timer's tick: the page is counted as present; the banners change only when the room did."""
    state = page_state(state)
    if presenter.is_presenter(request):
        return (gr.skip(),) * 6
    ROOM.seen(_key(request))
    if state["version"] == ROOM.version:
        return (gr.skip(),) * 6
    return banners(state, request)


def submit(nickname: Any, request: gr.Request | None = None) -> tuple[str, str]:
    """Put this page's current result, as the server measured it, on the board; (message, board)."""
    session = handlers.existing_session(request)
    result = None if session is None else session.result
    if result is None or result.accuracy_after is None:
        return _note("⚠️ Prune a model first: pick a setting on the left."), gr.skip()
    config, key = result.config, _key(request)
    entry = Entry(key, clean_nickname(nickname), config.model, config.method, config.scope, float(config.amount),
                  float(result.global_sparsity), float(result.accuracy_after), 0.0)
    try:
        rank = ROOM.submit(entry)
    except RoomRefused as err:
        return _note(f"⚠️ {err}"), gr.skip()
    board = ROOM.leaderboard(BOARD_ROWS)
    return (_note(f"✓ Submitted as “{entry.nickname}”: {100 * entry.sparsity:.2f}% sparsity, "
                  f"{100 * entry.accuracy:.2f}% accuracy — " + (f"rank {rank}." if rank else "not among the best.")),
            leaderboard_html(board, ROOM.challenge, key) + own_entry(ROOM.entries.get(key), ROOM.challenge, board))


def _note(text: str) -> str:
    return f'<div class="pl-submit-note">{html.escape(text)}</div>'


def apply_sent(state: Any, request: gr.Request | None = None) -> list:
    """"Apply": the controls set to the setting the presenter sent (read here, on the server), in
    links.CONTROLS order, then the banner's new text and the page's state."""
    state = page_state(state)
    sent = ROOM.sent
    if sent is None:
        gr.Warning("No setting was sent (the room was reset).")
        return [gr.skip()] * len(links.CONTROLS) + [gr.skip(), state]
    values, _ = links.read_link(dict(parse_qsl(sent.query)))
    state["applied"] = sent.number
    updates = [gr.update(value=values[name]) if name in values else gr.skip() for name in links.CONTROLS]
    return updates + [sent_banner(sent, state["applied"], "?" + sent.query), state]


def start(request: gr.Request | None = None) -> gr.Timer:
    """On page load: in workshop mode a participant's page polls (the presenter's does not)."""
    return gr.Timer(active=presenter.enabled() and not presenter.is_presenter(request))


def section() -> dict:
    """The banners (hidden until the room has something to show) and the page's poll timer."""
    b = {}
    with gr.Group(visible=False, elem_id="pl-sent-box") as b["sent_box"]:
        b["sent"] = gr.HTML(elem_id="pl-sent-banner")
        with gr.Row():
            b["apply"] = gr.Button("Apply", variant="primary", size="sm", elem_id="pl-apply")
    with gr.Group(visible=False, elem_id="pl-challenge-box") as b["challenge_box"]:
        b["challenge"] = gr.HTML(elem_id="pl-challenge-banner")
        with gr.Row():
            b["nickname"] = gr.Textbox("", label=f"Nickname (optional, up to {MAX_NICKNAME} characters)",
                                       placeholder="anonymous", max_lines=1, max_length=MAX_NICKNAME,
                                       elem_id="pl-nickname", scale=2)
            b["submit"] = gr.Button("Submit my current result", variant="primary", elem_id="pl-submit", scale=1)
        b["message"] = gr.HTML(elem_id="pl-submit-message")
        b["board"] = gr.HTML(elem_id="pl-participant-board")
    # what this page has seen of the room, kept in the page: a gr.State would make every page hold a
    # heartbeat connection open, and a browser gives one host 6 (HTTP/1.1), so a 5th tab never loaded
    b["state"] = gr.JSON(dict(FRESH), visible=False, elem_id="pl-banner-state")
    b["timer"] = gr.Timer(POLL_S, active=False)
    return b

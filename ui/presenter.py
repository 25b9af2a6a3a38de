"""The presenter's page: opened with ?presenter=SECRET, the room live, a challenge, a setting sent to everyone."""
from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qsl

import gradio as gr

from pruning import list_methods
from pruning.sweep import SweepResult
from ui import handlers, links
from ui.resources import eval_set, model_status, sweep_cache
from ui.room_state import ROOM, RoomRefused
from ui.room_views import Point, challenge_text, leaderboard_html, room_plot, room_summary

PARAM = "presenter"            # the page's query parameter holding the secret
REFRESH_S = 3.0                # the presenter's view is redrawn this often
ACTIVE_S = 30.0                # a participant whose page polled within this is active (pages poll every few s)
RULE_LABELS = {"accuracy": "Accuracy ≥ target: highest global sparsity wins",
               "sparsity": "Global sparsity ≥ target: highest accuracy wins"}
_SECRET: dict[str, str | None] = {"value": None}
_SWEEPS: dict[str, SweepResult] = {}      # finished sweeps by model: no digest of the eval set per refresh


def configure(secret: str | None, room_file: str | None = None) -> None:
    """Set the presenter secret (None: no presenter, workshop mode off) and where the room is kept
    (None: in memory only, a restart clears it)."""
    _SECRET["value"] = secret or None
    ROOM.attach(room_file)


def enabled() -> bool:
    """Whether a presenter secret is set (participants' pages then poll for the room's banners)."""
    return _SECRET["value"] is not None


def is_presenter(request: gr.Request | None) -> bool:
    """Whether this request carries the presenter secret (?presenter=, compared in constant time)."""
    secret = _SECRET["value"]
    params = getattr(request, "query_params", None) or {}
    given = params.get(PARAM) if hasattr(params, "get") else None
    if secret is None or not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


def require(request: gr.Request | None) -> None:
    """Refuse (gr.Error) a request without the presenter secret: every presenter action calls this."""
    if not is_presenter(request):
        raise gr.Error("Only the presenter can do this: open the page with the presenter's link.")


def curves_for(model: str) -> tuple[SweepResult | None, str]:
    """The model's sweep for the room plot (the one the curves tab shows) and a note while it runs."""
    if model in _SWEEPS:
        return _SWEEPS[model], ""
    try:
        job = sweep_cache().job(model, eval_set())
    except ValueError as err:
        return None, f"No curves: {err}"
    if job.done.is_set() and job.error is None and job.result is not None:
        _SWEEPS[model] = job.result
        return job.result, ""
    return job.result, f"Curves still computing ({100 * job.fraction:.0f}%): the points are measured."


def room_points(model: str) -> tuple[list[Point], int, int]:
    """(points of the active participants on `model`, how many are on other models, how many are
    active): one look at each active page's session, nothing evaluated."""
    points, elsewhere, active = [], 0, ROOM.active(ACTIVE_S)
    for key in active:
        session = handlers.SESSIONS.peek(key)
        result = None if session is None else session.result
        if result is None or result.accuracy_after is None:
            continue
        if result.config.model != model:
            elsewhere += 1
            continue
        points.append(Point(result.config.method, result.config.scope, float(result.config.amount),
                            float(result.global_sparsity), float(result.accuracy_after)))
    return points, elsewhere, len(active)


def view_model(page_model: Any) -> str:
    """The model the room view shows: the challenge's, else the one selected on the presenter's page."""
    if ROOM.challenge is not None:
        return ROOM.challenge.model
    usable = model_status()[0]
    return page_model if page_model in usable else (usable[0] if usable else "")


def refresh(page_model: Any, request: gr.Request | None = None) -> tuple[str, str, str, str]:
    """The presenter's live view: (challenge line, room plot, summary, board)."""
    require(request)
    model = view_model(page_model)
    sweep, note = curves_for(model)
    points, elsewhere, active = room_points(model)
    methods = list_methods()
    return (challenge_text(ROOM.challenge) or "<div class='pl-challenge-rule'>No challenge running.</div>",
            room_plot(points, sweep, methods, model), room_summary(active, points, elsewhere, model, note),
            leaderboard_html(ROOM.leaderboard(), ROOM.challenge))


def start_challenge(model: Any, rule: Any, target: Any, methods: Any, request: gr.Request | None = None) -> str:
    """Start a challenge (the previous one's board is cleared)."""
    require(request)
    rules = {label: key for key, label in RULE_LABELS.items()}
    if model not in model_status()[0]:
        raise gr.Error(f"Pick a model of this server, not {str(model)[:40]!r}.")
    if rule not in rules:
        raise gr.Error("Pick one of the rules.")
    allowed = [m for m in (methods or []) if isinstance(m, str)]
    if any(m not in list_methods() for m in allowed):
        raise gr.Error("Unknown method among the allowed ones.")
    try:
        challenge = ROOM.start_challenge(model, rules[rule], float(target) / 100, tuple(allowed))
    except (TypeError, ValueError, RoomRefused) as err:
        raise gr.Error(f"Not started: {err}") from None
    return f"Challenge {challenge.number} started: {challenge.describe()}."


def stop_challenge(request: gr.Request | None = None) -> str:
    """Close the challenge (its board stays)."""
    require(request)
    ROOM.stop_challenge()
    return "Challenge stopped: no more submissions; the board stays."


def send_setting(model: Any, method: Any, amount: Any, threshold: Any, scope: Any, per_type: Any, conv_amount: Any,
                 linear_amount: Any, layer_types: Any, calibration_size: Any, norm: Any, seed: Any, nm: Any = "2:4",
                 layer_amounts: Any = "", request: gr.Request | None = None) -> str:
    """Send the setting of the presenter's page (its controls, in links.CONTROLS order) to everyone."""
    require(request)
    values = dict(zip(links.CONTROLS, (model, method, amount, threshold, scope, per_type, conv_amount, linear_amount,
                                       layer_types, calibration_size, norm, seed, nm, layer_amounts)))
    query = links.link_query(values)
    _, notes = links.read_link(dict(parse_qsl(query)))
    if notes:
        raise gr.Error("Not sent: " + "; ".join(notes))
    sent = ROOM.send(query)
    return f"Setting {sent.number} sent to everyone: `?{query}`"


def reset_room(request: gr.Request | None = None) -> str:
    """Clear the challenge, its submissions and the sent setting."""
    require(request)
    ROOM.reset()
    return "The room was reset."


def section() -> dict:
    """The presenter's section (hidden until a request with the secret opens it)."""
    p, usable = {}, model_status()[0]
    with gr.Column(visible=False, elem_id="pl-presenter") as p["box"]:
        with gr.Row():
            gr.Markdown("## 🎤 Presenter: the room, live")
            p["projector"] = gr.Checkbox(False, label="Projector layout (large type)", elem_id="pl-projector")
        p["challenge_text"] = gr.HTML(elem_id="pl-presenter-challenge")
        p["plot"] = gr.HTML(elem_id="pl-presenter-plot")
        with gr.Row(elem_id="pl-presenter-side"):
            p["summary"] = gr.HTML(elem_id="pl-presenter-summary", min_width=300)
            p["board"] = gr.HTML(elem_id="pl-presenter-board", min_width=300)
        with gr.Row(elem_classes=["pl-presenter-controls"]):
            with gr.Column():
                gr.Markdown("### Challenge")
                p["model"] = gr.Dropdown(usable, value=usable[0] if usable else None, label="Model")
                p["rule"] = gr.Radio(list(RULE_LABELS.values()), value=RULE_LABELS["accuracy"], label="Rule")
                p["target"] = gr.Number(97.5, minimum=0, maximum=100, label="Target (%)", elem_id="pl-target")
                p["methods"] = gr.CheckboxGroup(list_methods(), value=[], label="Allowed methods (none ticked: any)")
                with gr.Row():
                    p["start"] = gr.Button("Start challenge", variant="primary", elem_id="pl-start")
                    p["stop"] = gr.Button("Stop challenge", elem_id="pl-stop")
            with gr.Column():
                gr.Markdown("### Send a setting\nSends the setting of this page (the controls below) to every "
                            "participant: each sees a banner with **Apply**.")
                p["send"] = gr.Button("📨 Send my current setting to everyone", elem_id="pl-send")
                gr.Markdown("### Reset")
                p["reset"] = gr.Button("Reset the room (challenge, submissions, sent setting)", variant="stop",
                                       elem_id="pl-reset")
                p["status"] = gr.Markdown(elem_id="pl-presenter-status")
        p["timer"] = gr.Timer(REFRESH_S, active=False)
    return p


PROJECTOR_JS = ("(on) => { document.getElementById('pl-presenter')?.classList.toggle('pl-projector', !!on); "
                "return on; }")

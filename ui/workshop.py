"""Workshop mode on the page: the presenter's section and the participants' banners, laid out and wired."""
from __future__ import annotations

from typing import Any

import gradio as gr

from ui import banners, links, presenter
from ui.room_views import CSS

ROOM_API = dict(queue=False, api_visibility="undocumented")     # cheap: not behind the heavy queue


def section() -> dict:
    """The presenter's section and the participants' banners, both hidden until they apply (at the top)."""
    gr.HTML(f"<style>{CSS}</style>", padding=False)         # outside both: a hidden column renders nothing
    return {"presenter": presenter.section(), "banners": banners.section()}


def open_presenter(request: gr.Request | None = None) -> tuple:
    """On page load: the presenter's section shown, its refresh on, and its view, for the presenter only."""
    if not presenter.is_presenter(request):
        return (gr.update(visible=False), gr.Timer(active=False), gr.skip()) + (gr.skip(),) * 4
    params = getattr(request, "query_params", None) or {}
    projector = params.get("projector") in ("1", "true", "yes") if hasattr(params, "get") else False
    return (gr.update(visible=True), gr.Timer(active=True), projector) + presenter.refresh(None, request)


def page_update(demo: gr.Blocks) -> Any:
    """The page's own setting-change event (api name "update"): "Apply" runs it as a slider change would."""
    for fn in demo.fns.values():
        if fn.api_name == "update":
            return fn
    raise LookupError("the page has no 'update' event")


def wire(demo: gr.Blocks, w: dict, controls: dict) -> None:
    """The presenter's actions (each re-checks the secret), the participants' poll, submit and Apply."""
    p, b = w["presenter"], w["banners"]
    setting = [controls[name] for name in links.CONTROLS]
    view = [p["challenge_text"], p["plot"], p["summary"], p["board"]]
    demo.load(open_presenter, None, [p["box"], p["timer"], p["projector"]] + view, queue=False,
              api_visibility="private")
    p["projector"].change(None, p["projector"], p["projector"], js=presenter.PROJECTOR_JS)
    p["timer"].tick(presenter.refresh, controls["model"], view, show_progress="hidden", api_name="room_view",
                    **ROOM_API)
    for button, action, inputs in ((p["start"], presenter.start_challenge, [p["model"], p["rule"], p["target"],
                                                                           p["methods"]]),
                                   (p["stop"], presenter.stop_challenge, None),
                                   (p["send"], presenter.send_setting, setting),
                                   (p["reset"], presenter.reset_room, None)):
        button.click(action, inputs, p["status"], api_name=f"room_{action.__name__}", **ROOM_API).success(
            presenter.refresh, controls["model"], view, queue=False, api_visibility="private")
    outputs = [b["sent_box"], b["sent"], b["challenge_box"], b["challenge"], b["board"], b["state"]]
    demo.load(banners.start, None, b["timer"], queue=False, api_visibility="private")
    b["timer"].tick(banners.poll, b["state"], outputs, show_progress="hidden", api_name="room_poll", **ROOM_API)
    gr.on([b["submit"].click, b["nickname"].submit], banners.submit, b["nickname"], [b["message"], b["board"]],
          api_name="room_submit", **ROOM_API)
    update = page_update(demo)
    b["apply"].click(banners.apply_sent, b["state"], setting + [b["sent"], b["state"]], queue=False,
                     api_visibility="private").then(update.fn, update.inputs, update.outputs,
                                                    api_name="update_from_room", api_visibility="private",
                                                    show_progress="minimal")

"""A drawing pad that draws on the first touch (mouse, finger or pen): a canvas in gr.HTML whose value is a PNG data URL."""
from __future__ import annotations

from typing import Any

import gradio as gr

from pruning.sketch import SketchError

PAD_PIXELS = 280      # the canvas bitmap is 280x280 (10 per MNIST pixel) whatever its size on screen
# The pen width sets how bold the 28x28 digit is. Measured through pruning.sketch on a 7, a 1 and a 0
# drawn 140, 200 and 250 px tall on the 280-px pad: with a 20-px pen, 8 of the 9 digits have a count
# of pixels > 127 inside the official test split's 10th-90th percentile for their class (the 250-px
# 0: 94, the 10th percentile is 97); with 10 px, 7 of 9 fall below it; with 26 px, 2 of 9 lie above
# the 90th.
STROKE_PIXELS = 20

# No ${...} and no {{...}} here: gr.HTML evaluates its template as a JS template string and a
# Handlebars template, and because the template does not use `value`, setting the value never
# re-renders the canvas (the drawing stays).
HTML = f"""
<div class="drawpad">
  <canvas width="{PAD_PIXELS}" height="{PAD_PIXELS}" role="img"
          aria-label="Drawing pad: draw one digit with the mouse, a finger or a pen"></canvas>
  <div class="drawpad-bar">
    <span class="drawpad-hint">Draw a digit: mouse, finger or pen</span>
    <button type="button" class="drawpad-clear">Clear</button>
  </div>
</div>
"""

CSS = """
.drawpad { display: flex; flex-direction: column; align-items: center; gap: 8px; width: 100%; }
.drawpad canvas {
  width: min(280px, 100%); height: auto; aspect-ratio: 1 / 1; box-sizing: border-box;
  background: #fff; border: 1px solid var(--border-color-primary, #d0d0d0);
  border-radius: var(--radius-lg, 8px); cursor: crosshair;
  touch-action: none;              /* a finger on the pad draws instead of scrolling or zooming */
  user-select: none; -webkit-user-select: none; -webkit-touch-callout: none;
}
.drawpad-bar { display: flex; align-items: center; justify-content: space-between; gap: 8px;
               width: min(280px, 100%); }
.drawpad-hint { color: var(--body-text-color-subdued, #666); font-size: var(--text-sm, 14px); }
.drawpad-clear {
  padding: 6px 16px; min-height: 36px; cursor: pointer; font-size: var(--text-md, 14px);
  touch-action: manipulation;      /* no double-tap zoom: a tap is a click at once */
  color: var(--button-secondary-text-color, #333);
  background: var(--button-secondary-background-fill, #f3f3f3);
  border: var(--button-border-width, 1px) solid var(--button-secondary-border-color, #d0d0d0);
  border-radius: var(--button-small-radius, 6px);
}
.drawpad-clear:hover { background: var(--button-secondary-background-fill-hover, #e6e6e6); }
"""

# Runs once when the component mounts (gr.HTML's js_on_load: `element` and `props` are given).
# Pointer events cover mouse, touch and pen alike, so no tool has to be picked first. The value is
# sent when a stroke ends (pointerup), not on every move: one event per stroke, as gr.Sketchpad did.
JS = """
const canvas = element.querySelector('canvas');
const clear = element.querySelector('.drawpad-clear');
const pen = canvas.getContext('2d');
const WIDTH = STROKE;
let active = null, last = null, drawn = false;

function blank() {
  pen.fillStyle = '#fff';
  pen.fillRect(0, 0, canvas.width, canvas.height);
  drawn = false;
}
function at(event) {                       // client pixels -> canvas pixels (the canvas may be scaled)
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width,
          (event.clientY - box.top) * canvas.height / box.height];
}
function dot(p) {
  pen.beginPath(); pen.arc(p[0], p[1], WIDTH / 2, 0, 2 * Math.PI); pen.fillStyle = '#000'; pen.fill();
}
function segment(a, b) {
  pen.beginPath(); pen.moveTo(a[0], a[1]); pen.lineTo(b[0], b[1]);
  pen.lineWidth = WIDTH; pen.lineCap = 'round'; pen.lineJoin = 'round'; pen.strokeStyle = '#000'; pen.stroke();
}
function send() { props.value = drawn ? canvas.toDataURL('image/png') : ''; }

canvas.addEventListener('pointerdown', (event) => {
  if (active !== null || (event.pointerType === 'mouse' && event.button !== 0)) return;
  event.preventDefault();                  // no text selection, no emulated mouse events after touch
  active = event.pointerId;
  canvas.setPointerCapture(event.pointerId);   // keep the stroke when the pointer leaves the pad
  last = at(event); dot(last); drawn = true;
});
canvas.addEventListener('pointermove', (event) => {
  if (event.pointerId !== active) return;
  event.preventDefault();
  const points = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const e of (points.length ? points : [event])) { const p = at(e); segment(last, p); last = p; }
});
function finish(event) {
  if (event.pointerId !== active) return;
  active = null; last = null; send();
}
canvas.addEventListener('pointerup', finish);
canvas.addEventListener('pointercancel', finish);
function empty() { blank(); send(); }         // idempotent: a second call sends nothing new
// Chromium drops the click of a tap that comes right after a stroke (measured: a tap ~0.1 s after
// the stroke ended gave no click in 2 of 3 tries), so a finger's pointerup on the button clears too;
// click stays for the mouse and the keyboard (Enter, Space).
clear.addEventListener('pointerup', (event) => { if (event.pointerType !== 'mouse') empty(); });
clear.addEventListener('click', empty);
blank();
canvas.dataset.ready = 'true';              // for tests and scripts: the pad listens now
""".replace("STROKE", str(STROKE_PIXELS))


def drawpad(elem_id: str = "drawpad") -> gr.HTML:
    """The pad: listen to its `.change`; the handler receives "" (nothing drawn) or a
    "data:image/png;base64,..." URL of the 280x280 drawing (black on white), after every stroke and Clear."""
    return gr.HTML("", html_template=HTML, css_template=CSS, js_on_load=JS, apply_default_css=False,
                   elem_id=elem_id, elem_classes=["drawpad-block"])


def pad_image(value: Any) -> str | None:
    """The pad's value, checked before `preprocess_sketch`: a data:image URL, or None if nothing is
    drawn. Anything else raises SketchError: the value comes from a browser or an API client, and a
    plain string would otherwise be opened as a file path on the server."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not value.startswith("data:image/"):
        raise SketchError("the drawing pad sends a data:image/png;base64 URL")
    return value

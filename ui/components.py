"""Lenient inputs: a malformed API value reaches the event function, which says what is wrong in the app's words."""
from __future__ import annotations

from typing import Any, TypeVar

C = TypeVar("C")


def lenient(component: C) -> C:
    """`component` (a gradio input) whose preprocess passes a value it cannot read on unchanged, so
    the event function refuses it naming the field, instead of gradio's "Could not preprocess input
    component at index N". Set on the instance: a subclass would make gradio write a .pyi file."""
    strict = component.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return strict(payload)
        except Exception:  # noqa: BLE001  (any refusal: the event function explains it)
            return payload
    component.preprocess = preprocess
    return component

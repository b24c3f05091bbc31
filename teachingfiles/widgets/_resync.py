"""Answer a widget view's greeting; open the widget afresh when its model is deaf.

anywidget gives a front-end model 2 s from its creation to load and bind its
module; when that takes longer (a busy page: many widgets arriving at once, images
decoding), every later message from the kernel to that model is dropped, for good,
although the view still renders. Under load a quiz card so stayed on "Question 0 of
0". Each of our views therefore greets the kernel when it renders
(``widgets/_resync.js``, ``{"type": "hello", "seq": n}``) until it hears
``{"type": "welcome"}``:

* the first greeting is answered with every synced trait (what the card shows is
  what Python holds, whatever update was lost) and a welcome;
* a greeting numbered :data:`DEAF_AFTER` or more, from a model welcomed
  :data:`QUEUED_S` or more before, means the welcome never arrived: the model
  cannot hear the kernel. The widget is
  then closed and opened again (a new model with a new id, its whole state in the
  opening message) and the boxes holding it are told, so the page renders the new
  model in the old one's place. Python objects, handlers and state are unchanged.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import ipywidgets  # type: ignore[import-untyped]

__all__ = ["DEAF_AFTER", "HELLO", "QUEUED_S", "WELCOME", "holders", "reopen", "resync_on_hello"]

HELLO = "hello"
WELCOME = "welcome"
#: The greeting number that means the model never heard the welcome (the page
#: greets at 0, 3 and 9 s) when it reaches the kernel :data:`QUEUED_S` or more after
#: the first welcome: greetings that waited in the queue of a busy kernel arrive
#: together, right after it.
DEAF_AFTER = 3
QUEUED_S = 3.0
_SKIP = frozenset({"_esm", "_css"})  # the code itself: the page already runs it
_log = logging.getLogger(__name__)


def holders(widget: Any) -> list[Any]:
    """Return the open boxes whose ``children`` hold ``widget``."""
    from ipywidgets.widgets.widget import (  # type: ignore[import-untyped]
        _instances,  # the registry of open widgets
    )

    return [
        box
        for box in list(_instances.values())
        if isinstance(box, ipywidgets.Box) and any(c is widget for c in box.children)
    ]


def reopen(widget: Any) -> bool:
    """Close ``widget``'s front-end model and open a new one in the same boxes.

    Returns whether a box holds the widget (without one, a new model would not be
    shown anywhere, so nothing is done).
    """
    boxes = holders(widget)
    if not boxes:
        return False
    ipywidgets.Widget.close(widget)  # the model only: a subclass's close() ends more
    widget._model_id = None  # a new id: the page must not confuse it with the closed one
    widget.open()
    widget.__dict__.pop("_repr_mimebundle_", None)  # close() hid the display method
    for box in boxes:
        box.send_state("children")
    return True


def resync_on_hello(widget: Any) -> None:
    """Make ``widget`` (an anywidget) answer its views' greetings (see the module)."""
    welcomed: dict[str, float] = {}  # model id -> when it was first sent a welcome

    def on_message(_widget: object, content: Any, _buffers: object) -> None:
        if not (isinstance(content, dict) and content.get("type") == HELLO):
            return
        seq = int(content.get("seq", 1))
        since = time.monotonic() - welcomed.get(widget.model_id, math.inf)
        # greetings that waited in the kernel's queue arrive together, right after the
        # welcome: they were sent before it could arrive, and prove nothing
        if seq >= DEAF_AFTER and since >= QUEUED_S:
            _log.info("%s %s did not hear the kernel: opened again", type(widget).__name__,
                      widget.model_id)  # fmt: skip
            if reopen(widget):
                return
        widget.send_state([k for k in widget.keys if k not in _SKIP])
        widget.send({"type": WELCOME})
        welcomed.setdefault(widget.model_id, time.monotonic())

    widget.on_msg(on_message)

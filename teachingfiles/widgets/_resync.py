"""Send a widget's state again when its page says it has rendered.

The front end drops comm messages that reach a widget model still being created
(the model's message handler is attached only after an asynchronous set-up): a
trait changed just after the widget was made can then be lost, and under load a
quiz card stayed on "Question 0 of 0". The page of each card says ``{"type":
"hello"}`` when it renders; the kernel answers with every synced trait, so what the
card shows is always what Python holds.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HELLO", "resync_on_hello"]

HELLO = "hello"
_SKIP = frozenset({"_esm", "_css"})  # the code itself: the page already runs it


def resync_on_hello(widget: Any) -> None:
    """Make ``widget`` (an anywidget) resend its synced state when its page says hello."""

    def on_message(_widget: object, content: Any, _buffers: object) -> None:
        if isinstance(content, dict) and content.get("type") == HELLO:
            widget.send_state([k for k in widget.keys if k not in _SKIP])

    widget.on_msg(on_message)

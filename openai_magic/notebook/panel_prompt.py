"""`PromptBox`: the panel's prompt text area, where Shift+Enter sends (Enter alone adds a newline).

ipywidgets' own Textarea stops every keydown in its view, so no key binding can be added to it; this
small anywidget renders a plain <textarea> instead. Its `value` reaches the kernel when the box loses
focus (as with a Textarea's continuous_update=False) and with each Shift+Enter.

Shift+Enter travels as a state update, {"value": text, "_submits": n + 1}, not as a custom message:
the front end throttles state updates (the latest one waits in a buffer while the kernel is busy) but
sends custom messages at once, so a custom "submit" could overtake the buffered value and that stale
value would then land after the panel had cleared the prompt. In one update, the text and the submit
arrive together and in order; the `on_submit` callbacks run once both are set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import traitlets
from ipywidgets import CallbackDispatcher

ESM = r"""
function render({ model, el }) {
  const area = document.createElement("textarea");
  area.className = "openai-magic-prompt-input";
  area.rows = model.get("rows");
  area.placeholder = model.get("placeholder");
  area.value = model.get("value");
  area.spellcheck = true;
  // Lumino (JupyterLab and Notebook 7) matches no shortcut at or above an element with this
  // attribute, whether it listens in the capture phase (Notebook 7) or the bubbling one (JupyterLab):
  // without it, Shift+Enter here would run the notebook cell instead of sending.
  area.setAttribute("data-lm-suppress-shortcuts", "true");

  // Each input updates the model here; the kernel gets the text when the box loses focus (e.g. on a
  // Send click, just before the click) or with Shift+Enter, as ipywidgets' Textarea does with
  // continuous_update=False. A state update sent per keystroke could still wait in the throttle buffer
  // while Send's click message, which is never buffered, overtook it.
  const onInput = () => model.set("value", area.value);
  const onChange = () => {
    model.set("value", area.value);
    model.save_changes();
  };
  const onKeydown = (event) => {
    // Keep keys away from JupyterLab's notebook shortcuts (as ipywidgets' own text widgets do).
    event.stopPropagation();
    if (event.key === "Enter" && event.shiftKey && !event.isComposing) {
      event.preventDefault();
      // One update carries the text and the submit, so they reach the kernel together and in order.
      model.set("value", area.value);
      model.set("_submits", model.get("_submits") + 1);
      model.save_changes();
    }
  };
  const onKeypress = (event) => event.stopPropagation();
  area.addEventListener("input", onInput);
  area.addEventListener("change", onChange);
  area.addEventListener("keydown", onKeydown);
  area.addEventListener("keypress", onKeypress);

  const onValue = () => {
    const value = model.get("value");
    if (area.value !== value) area.value = value;
  };
  const onPlaceholder = () => { area.placeholder = model.get("placeholder"); };
  const onRows = () => { area.rows = model.get("rows"); };
  model.on("change:value", onValue);
  model.on("change:placeholder", onPlaceholder);
  model.on("change:rows", onRows);

  el.appendChild(area);
  return () => {
    model.off("change:value", onValue);
    model.off("change:placeholder", onPlaceholder);
    model.off("change:rows", onRows);
    area.removeEventListener("input", onInput);
    area.removeEventListener("change", onChange);
    area.removeEventListener("keydown", onKeydown);
    area.removeEventListener("keypress", onKeypress);
  };
}

export default { render };
"""

CSS = """
.openai-magic-prompt-input {
  box-sizing: border-box;
  display: block;
  width: 100%;
  min-height: calc(3lh + 10px); /* never fewer than three rows */
  resize: vertical;
  margin: 0;
  padding: var(--jp-widgets-input-padding, 4px) calc(var(--jp-widgets-input-padding, 4px) * 2);
  font: inherit;
  font-family: var(--jp-ui-font-family, inherit);
  font-size: var(--jp-widgets-font-size, var(--jp-ui-font-size1, 13px));
  line-height: 1.4;
  color: var(--jp-widgets-input-color, var(--jp-ui-font-color1, #000));
  background: var(--jp-widgets-input-background-color, var(--jp-layout-color1, #fff));
  border: var(--jp-widgets-input-border-width, 1px) solid
    var(--jp-widgets-input-border-color, var(--jp-border-color1, #bdbdbd));
  border-radius: 0;
  outline: none;
}
.openai-magic-prompt-input:focus {
  border-color: var(--jp-widgets-input-focus-border-color, var(--jp-brand-color2, #64b5f6));
}
.openai-magic-prompt-input::placeholder {
  color: var(--jp-ui-font-color3, #757575);
}
"""


class PromptBox(anywidget.AnyWidget):
    """A text area whose `value` is synced like a Textarea's; Shift+Enter calls the `on_submit` callbacks."""

    _esm = ESM
    _css = CSS

    value = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("").tag(sync=True)
    rows = traitlets.Int(3).tag(sync=True)
    # How many times Shift+Enter was pressed; only the front end raises it (see the module docstring).
    _submits = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._submit_handlers = CallbackDispatcher()

    def on_submit(self, callback: Callable[[PromptBox], Any], remove: bool = False) -> None:
        """Call `callback(self)` on Shift+Enter, `value` holding the text; `remove=True` unregisters."""
        self._submit_handlers.register_callback(callback, remove=remove)

    def submit(self) -> None:
        """Run the submit callbacks, as Shift+Enter in the front end does."""
        self._submit_handlers(self)

    @traitlets.observe("_submits")
    def _on_submits(self, change: dict) -> None:
        if change["new"] > change["old"]:
            self.submit()

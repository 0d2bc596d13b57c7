"""The panel's parameter widgets, one per option that declares a `widget` (see `options.py`).

Unset means "not sent": sliders have a checkbox, number fields stay blank, so the provider's own
default applies, exactly as when a magic option is left out.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from . import options as opts


class OptionalSlider:
    """A slider with a checkbox: unchecked means "not sent" (None)."""

    def __init__(self, name: str, spec: opts.Spec) -> None:
        low, high = spec.minimum or 0.0, spec.maximum if spec.maximum is not None else 1.0
        self.enabled = widgets.Checkbox(value=False, description=name, indent=False)
        self.enabled.layout.width = "110px"
        self.slider = widgets.FloatSlider(
            value=min(max(1.0, low), high),
            min=low,
            max=high,
            step=spec.step or 0.01,
            disabled=True,
            continuous_update=False,
        )
        self.enabled.observe(lambda change: setattr(self.slider, "disabled", not change["new"]), "value")
        self.box = widgets.HBox([self.enabled, self.slider])

    @property
    def value(self) -> float | None:
        return float(self.slider.value) if self.enabled.value else None

    @value.setter
    def value(self, value: float | None) -> None:
        self.enabled.value = value is not None
        if value is not None:
            self.slider.value = value


class OptionalInt:
    """A number field that is blank when unset. Text that is not a whole number in bounds is said
    beside the field (and the panel sends nothing until it is fixed), never silently dropped."""

    def __init__(self, name: str, spec: opts.Spec) -> None:
        self.name = name
        self.text = widgets.Text(
            placeholder="none", description=name.replace("_", " "), continuous_update=False
        )
        self.text.layout.width = "180px"
        self.hint = widgets.HTML()
        self.text.observe(lambda _: self._show_problem(), "value")
        self.box = widgets.HBox([self.text, self.hint])

    @property
    def problem(self) -> str | None:
        """What is wrong with the text ("must be at least 1, not 0"), None when blank or valid."""
        text = self.text.value.strip()
        if not text:
            return None
        if not text.lstrip("-").isdigit():
            return f"a whole number, not {text!r}"
        try:
            opts.check(self.name, int(text))
        except ValueError as exc:
            return str(exc).removeprefix(f"{self.name} ")
        return None

    def _show_problem(self) -> None:
        problem = self.problem
        self.hint.value = f"<small style='color:#b00'>{html.escape(problem)}</small>" if problem else ""

    @property
    def value(self) -> int | None:
        return None if self.problem or not self.text.value.strip() else int(self.text.value.strip())

    @value.setter
    def value(self, value: int | None) -> None:
        self.text.value = "" if value is None else str(value)


class TextArea:
    """Free text; blank is unset."""

    def __init__(self, name: str, spec: opts.Spec) -> None:
        placeholder = f"{name.replace('_', ' ')} prompt (optional)" if name == "system" else spec.help
        self.area = widgets.Textarea(placeholder=placeholder, rows=2, continuous_update=False)
        self.area.add_class(f"openai-magic-{name}")
        self.area.layout.width = "100%"
        self.box = self.area

    @property
    def value(self) -> str | None:
        return str(self.area.value).strip() or None

    @value.setter
    def value(self, value: str | None) -> None:
        self.area.value = value or ""


class Toggle:
    """An on/off button (image mode)."""

    def __init__(self, name: str, spec: opts.Spec) -> None:
        icons = {"image": "image"}
        self.button = widgets.ToggleButton(description=name, icon=icons.get(name, ""), tooltip=spec.help)
        self.button.add_class(f"openai-magic-{name}-mode")
        self.box = self.button

    @property
    def value(self) -> bool:
        return bool(self.button.value)

    @value.setter
    def value(self, value: bool) -> None:
        self.button.value = bool(value)


KINDS: dict[str, type[Any]] = {
    "slider": OptionalSlider,
    "int": OptionalInt,
    "textarea": TextArea,
    "toggle": Toggle,
}


class ParamWidgets:
    """Every option widget of the panel; `values()` reads them, `show(options)` sets them."""

    def __init__(self) -> None:
        self.widgets: dict[str, Any] = {}
        for name in opts.names(opts.PANEL):
            spec = opts.spec(name)
            if spec.widget:
                self.widgets[name] = KINDS[spec.widget](name, spec)

    def __getitem__(self, name: str) -> Any:
        return self.widgets[name]

    def boxes(self, kind: str) -> list[widgets.Widget]:
        """The widgets of one kind, in declaration order (for the layout)."""
        return [w.box for name, w in self.widgets.items() if opts.spec(name).widget == kind]

    def values(self) -> dict[str, Any]:
        return {name: widget.value for name, widget in self.widgets.items()}

    def problems(self) -> list[str]:
        """Fields whose text cannot be sent, as "max tokens: must be at least 1, not 0"."""
        found = [(name, getattr(widget, "problem", None)) for name, widget in self.widgets.items()]
        return [f"{name.replace('_', ' ')}: {problem}" for name, problem in found if problem]

    def show(self, options: opts.ChatOptions) -> None:
        for name, widget in self.widgets.items():
            widget.value = getattr(options, name)


def tools_html(tools: Any) -> str:
    """The functions the model may call, with the first line of each docstring."""
    if not tools:
        return "<small>tools: none (ChatPanel(tools=[fn, ...]) offers Python functions)</small>"
    rows = []
    for tool in tools:
        name = getattr(tool, "__name__", None) or (
            tool.get("function", {}).get("name") if isinstance(tool, dict) else str(tool)
        )
        doc = (getattr(tool, "__doc__", None) or "").strip().splitlines()
        rows.append(f"<code>{html.escape(str(name))}</code> {html.escape(doc[0]) if doc else ''}")
    return "<small><b>tools</b>: " + "; ".join(rows) + "</small>"


__all__ = ["ParamWidgets", "tools_html"]

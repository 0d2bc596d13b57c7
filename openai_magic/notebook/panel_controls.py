"""The panel's widgets and their layout; behaviour lives in `panel.py`."""

from __future__ import annotations

import ipywidgets as widgets

from .panel_prompt import PromptBox

CUSTOM = "custom base URL"


# ipywidgets gives HTML widgets a one-line (28 px) line height, meant for labels; answers are prose.
STYLE = """<style>
.openai-magic-transcript .widget-html-content { line-height: 1.5; }
.openai-magic-transcript .widget-html-content p { margin: 0.4em 0; }
.openai-magic-transcript table { border-collapse: collapse; margin: 0.4em 0; }
.openai-magic-transcript th, .openai-magic-transcript td {
  border: 1px solid var(--jp-border-color2, #ddd); padding: 2px 8px; line-height: 1.4;
}
.openai-magic-transcript pre {
  background: var(--jp-layout-color2, #f5f5f5); padding: 6px 8px; line-height: 1.35; overflow-x: auto;
}
</style>"""


def _css(widget: widgets.DOMWidget, name: str) -> widgets.DOMWidget:
    widget.add_class(name)
    return widget


class OptionalSlider:
    """A slider with a checkbox: unchecked means "not sent" (None), the provider's default applies."""

    def __init__(self, description: str, minimum: float, maximum: float, step: float, default: float) -> None:
        self.enabled = widgets.Checkbox(value=False, description=description, indent=False)
        self.enabled.layout.width = "110px"
        self.slider = widgets.FloatSlider(
            value=default, min=minimum, max=maximum, step=step, disabled=True, continuous_update=False
        )
        self.enabled.observe(lambda change: setattr(self.slider, "disabled", not change["new"]), "value")
        self.box = widgets.HBox([self.enabled, self.slider])

    @property
    def value(self) -> float | None:
        return self.slider.value if self.enabled.value else None

    @value.setter
    def value(self, value: float | None) -> None:
        self.enabled.value = value is not None
        if value is not None:
            self.slider.value = value


class Controls:
    """Every widget of the panel, built once; `root` is what gets displayed."""

    def __init__(self, provider_names: list[str], key_box: widgets.Widget) -> None:
        narrow = widgets.Layout(width="auto")
        self.provider = widgets.Dropdown(options=[*provider_names, CUSTOM], description="provider")
        self.base_url = widgets.Text(
            placeholder="http://localhost:8000/v1", description="base URL", continuous_update=False
        )
        self.base_url.layout.display = "none"
        self.model = _css(widgets.Dropdown(options=[], description="model"), "openai-magic-model")
        self.refresh = _css(
            widgets.Button(icon="refresh", tooltip="reload models", layout=narrow), "openai-magic-refresh"
        )
        self.models_status = widgets.HTML()
        self.compare = _css(
            widgets.ToggleButton(description="compare", icon="columns"), "openai-magic-compare"
        )
        self.compare_models = _css(
            widgets.SelectMultiple(options=[], description="models", rows=4), "openai-magic-compare-models"
        )
        self.compare_models.layout.display = "none"

        self.temperature = OptionalSlider("temperature", 0.0, 2.0, 0.05, 1.0)
        self.top_p = OptionalSlider("top_p", 0.0, 1.0, 0.05, 1.0)
        self.max_tokens = widgets.BoundedIntText(value=0, min=0, max=1_000_000, description="max tokens")
        self.max_tokens.layout.width = "180px"
        self.seed = widgets.Text(placeholder="none", description="seed", continuous_update=False)
        self.seed.layout.width = "160px"
        self.system = _css(
            widgets.Textarea(placeholder="system prompt (optional)", rows=2, continuous_update=False),
            "openai-magic-system",
        )
        self.system.layout.width = "100%"

        self.thread = _css(
            widgets.Combobox(placeholder="name: pick or type", description="thread", continuous_update=False),
            "openai-magic-thread",
        )
        self.new_thread = _css(
            widgets.Button(description="new", icon="plus", layout=narrow), "openai-magic-new"
        )
        self.clear = _css(
            widgets.Button(description="clear", icon="trash", layout=narrow), "openai-magic-clear"
        )
        self.export_md = widgets.Button(description="export .md", icon="download", layout=narrow)
        self.export_json = widgets.Button(description="export .json", icon="download", layout=narrow)
        self.thread_status = widgets.HTML()

        self.prompt = _css(
            PromptBox(placeholder="Ask something… (Shift+Enter sends)", rows=3), "openai-magic-prompt"
        )
        self.prompt.layout.width = "100%"
        self.send = _css(
            widgets.Button(description="Send", button_style="primary", icon="paper-plane"),
            "openai-magic-send",
        )
        self.stop = _css(widgets.Button(description="Stop", icon="stop", disabled=True), "openai-magic-stop")
        self.image_mode = _css(
            widgets.ToggleButton(description="image", icon="image"), "openai-magic-image-mode"
        )
        self.upload = _css(
            widgets.FileUpload(accept="image/*", multiple=True, description="attach"), "openai-magic-upload"
        )
        self.transcript = _css(
            widgets.VBox(layout=widgets.Layout(max_height="70vh", overflow="auto")),
            "openai-magic-transcript",
        )

        settings = widgets.VBox(
            [
                widgets.HBox([self.temperature.box, self.top_p.box]),
                widgets.HBox([self.max_tokens, self.seed]),
                self.system,
            ]
        )
        settings_box = widgets.Accordion(children=[settings], titles=("parameters",))
        self.root = _css(
            widgets.VBox(
                [
                    widgets.HBox([self.provider, self.base_url, key_box]),
                    widgets.HBox([self.model, self.refresh, self.compare, self.models_status]),
                    self.compare_models,
                    settings_box,
                    widgets.HBox(
                        [
                            self.thread,
                            self.new_thread,
                            self.clear,
                            self.export_md,
                            self.export_json,
                            self.thread_status,
                        ]
                    ),
                    self.transcript,
                    widgets.HTML(STYLE),
                    self.prompt,
                    widgets.HBox([self.send, self.stop, self.image_mode, self.upload]),
                ]
            ),
            "openai-magic-panel",
        )

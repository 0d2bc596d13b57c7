"""The panel's widgets and their layout; behaviour lives in `panel.py`."""

from __future__ import annotations

import ipywidgets as widgets

from .panel_params import ParamWidgets
from .panel_prompt import PromptBox
from .panel_scroll import FollowScroll

CUSTOM = "custom base URL"
DEFAULT = "(default)"  # the provider `%chat` uses when nothing names one (the environment's)

# ipywidgets gives HTML widgets a one-line (28 px) line height, meant for labels; answers are prose.
# The answer styles follow JupyterLab's own rendered Markdown (its CSS variables), so an answer in the
# panel reads like one in a cell.
STYLE = """<style>
.openai-magic-transcript .widget-html-content {
  line-height: 1.5; font-family: var(--jp-content-font-family, inherit);
  font-size: var(--jp-content-font-size1, 14px); color: var(--jp-content-font-color1, inherit);
}
.openai-magic-transcript .widget-html-content p { margin: 0.4em 0; }
.openai-magic-transcript h1 { font-size: var(--jp-content-font-size5, 1.6em); margin: 0.5em 0 0.3em; }
.openai-magic-transcript h2 { font-size: var(--jp-content-font-size4, 1.35em); margin: 0.5em 0 0.3em; }
.openai-magic-transcript h3 { font-size: var(--jp-content-font-size3, 1.2em); margin: 0.5em 0 0.3em; }
.openai-magic-transcript table { border-collapse: collapse; margin: 0.4em 0; }
.openai-magic-transcript th, .openai-magic-transcript td {
  border: 1px solid var(--jp-border-color2, #ddd); padding: 2px 8px; line-height: 1.4;
}
.openai-magic-transcript pre, .openai-magic-transcript code {
  font-family: var(--jp-code-font-family, monospace); font-size: var(--jp-code-font-size, 13px);
}
.openai-magic-transcript pre {
  background: var(--jp-layout-color2, #f5f5f5); padding: 6px 8px; line-height: 1.35; overflow-x: auto;
}
</style>"""


def _css(widget: widgets.DOMWidget, name: str) -> widgets.DOMWidget:
    widget.add_class(name)
    return widget


class Controls:
    """Every widget of the panel, built once; `root` is what gets displayed."""

    def __init__(
        self, provider_options: list[tuple[str, str]], key_box: widgets.Widget, panel_id: str
    ) -> None:
        narrow = widgets.Layout(width="auto")
        self.provider = _css(
            widgets.Dropdown(options=[*provider_options, (CUSTOM, CUSTOM)], description="provider"),
            "openai-magic-provider",
        )
        self.base_url = _css(
            widgets.Text(
                placeholder="http://localhost:8000/v1", description="base URL", continuous_update=False
            ),
            "openai-magic-base-url",
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
        self.params = ParamWidgets()
        self.tools_list = _css(widgets.HTML(), "openai-magic-tools")  # the functions the model may call

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
        self.thread_status = _css(widgets.HTML(), "openai-magic-thread-status")

        self.prompt = _css(
            PromptBox(placeholder="Ask something… (Shift+Enter sends)", rows=3), "openai-magic-prompt"
        )
        self.prompt.layout.width = "100%"
        self.send = _css(
            widgets.Button(description="Send", button_style="primary", icon="paper-plane"),
            "openai-magic-send",
        )
        self.stop = _css(widgets.Button(description="Stop", icon="stop", disabled=True), "openai-magic-stop")
        self.upload = _css(
            widgets.FileUpload(accept="image/*", multiple=True, description="attach"), "openai-magic-upload"
        )
        self.transcript = _css(
            widgets.VBox(layout=widgets.Layout(max_height="70vh", overflow="auto")),
            "openai-magic-transcript",
        )

        params = self.params
        settings = widgets.VBox(
            [
                widgets.HBox(params.boxes("slider")),
                widgets.HBox(params.boxes("int")),
                *params.boxes("textarea"),
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
                    FollowScroll(panel_id=panel_id),
                    self.prompt,
                    widgets.HBox([self.send, self.stop, *params.boxes("toggle"), self.upload]),
                ]
            ),
            "openai-magic-panel",
        )

"""`FollowScroll`: the panel's small front-end helper (an invisible anywidget inside the panel).

- It keeps the transcript scrolled to the newest text while an answer streams, like a terminal or a
  chat app: while the reader is at the bottom, new text keeps it there; once they scroll up to read,
  it stays where they put it until they scroll back down. ipywidgets' Box has no such option.
- It hides the panel's static copy of its thread (`panel_fallback.py`, a separate output) wherever
  the live widget renders. Where widgets cannot render (GitHub, nbviewer, nbconvert), no script runs
  and the static copy is what the reader sees.
"""

from __future__ import annotations

import anywidget
import traitlets

ESM = r"""
function render({ model, el }) {
  el.style.display = "none";
  const staticSelector = `.openai-magic-static[data-panel="${model.get("panel_id")}"]`;
  const hideStatic = (root) => {
    const found = root.matches && root.matches(staticSelector) ? [root] : [];
    for (const node of [...found, ...(root.querySelectorAll ? root.querySelectorAll(staticSelector) : [])]) {
      const output = node.closest(".jp-OutputArea-child, .output_area") || node;
      output.style.display = "none";
    }
  };
  hideStatic(document);
  // The static copy is re-rendered after every turn (a display update): hide each new rendering.
  const statics = new MutationObserver((records) => {
    for (const record of records) for (const node of record.addedNodes) hideStatic(node);
  });
  statics.observe(document.body, { childList: true, subtree: true });
  let observer = null, transcript = null, stick = true;
  const onScroll = () => {
    stick = transcript.scrollTop + transcript.clientHeight >= transcript.scrollHeight - 24;
  };
  const attach = () => {
    const panel = el.closest(".openai-magic-panel");
    transcript = panel && panel.querySelector(".openai-magic-transcript");
    if (!transcript) return false;
    transcript.addEventListener("scroll", onScroll, { passive: true });
    observer = new MutationObserver(() => {
      if (stick) transcript.scrollTop = transcript.scrollHeight;
    });
    observer.observe(transcript, { childList: true, subtree: true, characterData: true });
    return true;
  };
  // The view is rendered before it is attached to the page: attach once it is.
  const start = new MutationObserver(() => { if (attach()) start.disconnect(); });
  if (!attach()) start.observe(document.body, { childList: true, subtree: true });
  return () => {
    statics.disconnect();
    start.disconnect();
    if (observer) observer.disconnect();
    if (transcript) transcript.removeEventListener("scroll", onScroll);
  };
}
export default { render };
"""


class FollowScroll(anywidget.AnyWidget):
    """Put one inside the panel's root; it follows that panel's transcript and hides its static copy."""

    _esm = ESM
    panel_id = traitlets.Unicode("").tag(sync=True)


__all__ = ["FollowScroll"]

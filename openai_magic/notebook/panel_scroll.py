"""`FollowScroll`: keeps the panel's transcript scrolled to the newest text while an answer streams.

Like a terminal or a chat app: while the reader is at the bottom, new text keeps it at the bottom;
once they scroll up to read, it stays where they put it until they scroll back down. ipywidgets'
Box has no such option, so this invisible anywidget watches the transcript next to it.
"""

from __future__ import annotations

import anywidget

ESM = r"""
function render({ el }) {
  el.style.display = "none";
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
    start.disconnect();
    if (observer) observer.disconnect();
    if (transcript) transcript.removeEventListener("scroll", onScroll);
  };
}
export default { render };
"""


class FollowScroll(anywidget.AnyWidget):
    """Put one inside the panel's root; it follows `.openai-magic-transcript` of that panel."""

    _esm = ESM


__all__ = ["FollowScroll"]

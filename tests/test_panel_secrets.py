"""The panel gives a key only to the provider it was given for, and saves no credentials of a URL."""

from __future__ import annotations

import ipywidgets as widgets
import pytest
from conftest import SENTINEL_KEY
from test_panel import all_widget_states, loaded, tree

from openai_magic import ChatPanel
from openai_magic.core.errors import AuthenticationError
from openai_magic.notebook.panel_controls import CUSTOM

pytestmark = [pytest.mark.panel, pytest.mark.timing]


def type_key(panel: ChatPanel, key: str) -> None:
    password = next(w for w in tree(panel.widget) if isinstance(w, widgets.Password))
    password.set_state({"value": key})  # as the front end sends it on Enter


def choose_url(panel: ChatPanel, url: str) -> None:
    panel.ui.provider.value = CUSTOM
    panel.ui.base_url.value = url  # as the front end sends it


async def test_a_key_typed_for_one_provider_is_not_sent_to_another(keyed_server, key_store):
    """The keyed server accepts only SENTINEL_KEY: a 401 proves the key typed for OpenAI was not sent."""
    panel = ChatPanel(provider="OpenAI", conversation="key-per-provider")
    type_key(panel, SENTINEL_KEY)
    assert panel.key_status == "key set (typed in panel)"
    choose_url(panel, keyed_server.base_url)
    assert panel.key_status == "no key (optional)"
    with pytest.raises(AuthenticationError):
        await panel.send("[demo tokens=3] hi")
    panel.ui.provider.value = "OpenAI"
    assert panel.key_status == "key set (typed in panel)"  # still there for the provider it was for


async def test_a_key_passed_to_the_panel_stays_with_its_provider(keyed_server, key_store):
    panel = ChatPanel(provider="OpenAI", api_key=SENTINEL_KEY, conversation="passed-key-per-provider")
    assert panel.key_status == "key set (passed to ChatPanel)"
    choose_url(panel, keyed_server.base_url)
    with pytest.raises(AuthenticationError):
        await panel.send("[demo tokens=3] hi")


async def test_a_key_typed_for_a_url_serves_that_url(keyed_server, key_store):
    panel = ChatPanel(provider="Demo", conversation="typed-for-url")
    choose_url(panel, keyed_server.base_url)
    type_key(panel, SENTINEL_KEY)
    await loaded(panel)
    assert await panel.send("[demo tokens=3] hi")


@pytest.mark.parametrize("how", ["argument", "typed"])
async def test_credentials_in_a_base_url_never_reach_widget_state(demo_server, how):
    """They are still used: the request goes to the URL as given (the demo server takes any auth)."""
    url = demo_server.base_url.replace("http://", "http://user:url-SENTINEL-pw@")
    if how == "argument":
        panel = ChatPanel(provider=url, model="demo-chat", conversation="url-credentials")
    else:
        panel = ChatPanel(provider="Demo", model="demo-chat", conversation="url-credentials")
        choose_url(panel, url)
    assert panel.ui.base_url.value == demo_server.base_url
    assert panel.options().provider == url  # kept in kernel memory for the requests
    await loaded(panel)
    assert await panel.send("[demo tokens=3] hi")
    state = all_widget_states()
    assert "url-SENTINEL-pw" not in state and "url-SENTINEL-pw" not in repr(panel)
    assert "url-SENTINEL-pw" not in repr(panel._provider._credentials)

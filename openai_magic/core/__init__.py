"""Provider core: talks to any OpenAI-compatible API over httpx. Never imports IPython."""

"""Test transports for the HTTP clients: a machine without network, and a session on it."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests


class OfflineAdapter(requests.adapters.BaseAdapter):
    """A transport that fails like a machine without network."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def send(self, request, **kwargs):
        self.urls.append(request.url)
        host = urlsplit(request.url).hostname
        raise requests.ConnectionError(
            f"HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded "
            f"(Caused by NameResolutionError: Failed to resolve '{host}')"
        )

    def close(self) -> None:
        pass


def session_with(adapter: requests.adapters.BaseAdapter) -> requests.Session:
    """A session that sends every http(s) request through ``adapter``."""
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session

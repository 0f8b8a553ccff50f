"""A small HTTP client for CLI commands: one place for auth, errors and retries on transport failures."""

from __future__ import annotations

import time
from typing import Any

import click
import httpx

from modelport.cli.config import Endpoint


class ApiError(click.ClickException):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (HTTP {status})")
        self.status = status


class Api:
    def __init__(self, endpoint: Endpoint, timeout: float = 60.0) -> None:
        if not endpoint.key:
            raise click.UsageError(
                "no API key: run `modelport login`, or set MODELPORT_API_KEY (or ALGORITHMIA_API_KEY)")
        self.endpoint = endpoint
        self.client = httpx.Client(base_url=endpoint.api, timeout=timeout,
                                   headers={"Authorization": f"Simple {endpoint.key}"})

    def request(self, method: str, path: str, *, retries: int = 3, **kwargs: Any) -> httpx.Response:
        """Send a request; retry only connection failures and 5xx, with backoff."""
        for attempt in range(retries + 1):
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt == retries:
                    raise click.ClickException(f"cannot reach {self.endpoint.api}: {exc}") from None
            else:
                if response.status_code < 500 or attempt == retries:
                    return response
            time.sleep(min(0.5 * 2**attempt, 8))
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ApiError(response.status_code, error_message(response))
        return response.json() if response.content else None


def error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        err = body.get("error")
        return err.get("message", str(err)) if isinstance(err, dict) else str(err or body)
    except ValueError:
        return response.text[:500] or response.reason_phrase

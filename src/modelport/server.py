"""``modelport server``: open the platform, print first-run instructions, serve with uvicorn."""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn
import uvicorn.protocols.http.h11_impl
import uvicorn.protocols.http.httptools_impl

from modelport.api.app import create_app
from modelport.config import Settings
from modelport.logs import setup_logging
from modelport.platform import FirstRun, Platform

log = logging.getLogger("modelport")


def first_run_banner(first: FirstRun, settings: Settings) -> str:
    api = settings.base_url
    return f"""
  modelport is set up. An administrator "{first.username}" was created with this full-access API key
  (call, data read/write, manage algorithms, administer users). It is shown ONCE: store it now.

      {first.key.key}

  Next steps:
    modelport login --api {api} --profile default       # paste the key when asked
    modelport users create alice --password-stdin          # more users (on this machine, or over the API)
    modelport algo create {first.username}/hello           # a new algorithm from the template
    git clone {api}/git/{first.username}/hello.git          # user "{first.username}", the key as password
  API docs: {api}/docs    health: {api}/healthz    data dir: {settings.data_dir}
"""


def serve(settings: Settings) -> None:
    setup_logging(settings.log_level)
    platform = Platform(settings)
    first = platform.bootstrap()
    if first is not None:
        print(first_run_banner(first, settings), flush=True)
    app = create_app(platform)
    buffer_request_bodies(REQUEST_BODY_BUFFER)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=settings.log_level.lower() == "debug",
        ssl_certfile=settings.tls_cert or None,
        ssl_keyfile=settings.tls_key or None,
        log_config=None,
        timeout_graceful_shutdown=10,
        proxy_headers=False,  # nothing reads the client address; skipping the middleware saves call time
        # TCP_NODELAY-friendly defaults; the call path is latency-sensitive.
        http="httptools" if _has("httptools") else "h11",
        loop="uvloop" if _has("uvloop") else "asyncio",
    )
    log.info("modelport serving on %s (data dir %s)", settings.base_url, settings.data_dir)
    if platform.isolated:
        log.info("algorithms run under accounts of their own (uids above %d), environments made from %s",
                 settings.worker_uid_base, platform.envs.python)
    else:
        log.info("algorithms run as the server's own account (MODELPORT_WORKER_ISOLATION, docs/server.md)")
    GracefulServer(config).run()
    log.info("modelport stopped cleanly")


# How much of a request body uvicorn holds before it stops reading the socket. Its default, 64 KiB,
# pauses and resumes the socket for every read (uvloop reads 256 KiB), which doubles the server's CPU
# time per uploaded byte (bench/data_transfer.py: 5.1 -> 3.1 CPU s/GiB). 1 MiB per connection in flight
# keeps a 1 GiB upload far inside its memory budget.
REQUEST_BODY_BUFFER = 1 << 20


def buffer_request_bodies(limit: int) -> None:
    """Set uvicorn's per-connection request body buffer; it has no public option for it."""
    for module in (uvicorn.protocols.http.httptools_impl, uvicorn.protocols.http.h11_impl):
        if not isinstance(getattr(module, "HIGH_WATER_LIMIT", None), int):
            log.warning("uvicorn %s has no HIGH_WATER_LIMIT; uploads use its default buffer", uvicorn.__version__)
            continue
        module.HIGH_WATER_LIMIT = limit


class GracefulServer(uvicorn.Server):
    """Uvicorn re-raises SIGINT/SIGTERM after shutting down; a clean stop should exit 0 instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True

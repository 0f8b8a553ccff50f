"""Upload and download a large file through the data API, against `cp` of the same file on the same disk.

Starts its own `modelport server` on 127.0.0.1 with a data dir in a temp folder (beside the test file,
so cp and the server write to the same disk), uploads with PUT and downloads with GET using curl, and samples the server's VmRSS / VmHWM from /proc while it works.
Prints one JSON line and a one-line summary; removes everything it created.

Beside cp it measures three references, so each figure can be read against what is possible here:
md5 of the file on one core (every upload records it, and it cannot be split across cores); curl
uploading to a bare Python socket that only writes the body to a file (bench/_reference_servers.py
`sink`: no HTTP framework, no hashing, no fsync); and curl downloading from a bare sendfile(2) server
to a file (`source`: how fast the client side can write what it receives).

    python3 bench/data_transfer.py                 # 1 GiB, best of 3 runs
    python3 bench/data_transfer.py --size-mib 256 --runs 1 --dir /var/tmp
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests import support

MIB = 1 << 20


class RssSampler:
    """Polls /proc/<pid>/status; `peak` is the highest VmRSS seen since `reset()`."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid, self.interval = pid, interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def status(self, field: str) -> int:
        text = Path(f"/proc/{self.pid}/status").read_text()
        match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
        return int(match.group(1)) * 1024 if match else 0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset(self) -> None:
        self.peak = self.status("VmRSS")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.peak = max(self.peak, self.status("VmRSS"))
            except OSError:
                return

    def __enter__(self) -> Self:
        self.reset()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def make_file(path: Path, size: int) -> str:
    md5 = hashlib.md5()
    block = os.urandom(64 * MIB)
    with path.open("wb") as f:
        written = 0
        while written < size:
            # Vary each block so no layer can deduplicate or compress it.
            piece = (written.to_bytes(8, "little") + block)[: min(len(block), size - written)]
            f.write(piece)
            md5.update(piece)
            written += len(piece)
    return md5.hexdigest()


def timed(action: Callable[[], None]) -> float:
    # Start each transfer with no dirty pages, so none pays for the writeback of the ones before it.
    os.sync()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def reference_times(mode: str, target: Path, transfer: Callable[[str], None], runs: int) -> list[float]:
    """Times of `transfer(url)` against one of bench/_reference_servers.py's bare servers."""
    port = support.free_port()
    script = Path(__file__).with_name("_reference_servers.py")
    server = subprocess.Popen([sys.executable, str(script), mode, str(port), str(target)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        return [timed(lambda: transfer(f"http://127.0.0.1:{port}/reference")) for _ in range(runs)]
    finally:
        server.kill()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3, help="repeat each transfer; the best run counts")
    parser.add_argument("--dir", default=None, help="where the temp folder goes (the disk under test)")
    parser.add_argument("--no-accel", action="store_true",
                        help="run the server on h11 and asyncio even when httptools and uvloop are installed")
    args = parser.parse_args()

    size = args.size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="modelport-bench-", dir=args.dir))
    server = None
    try:
        source = work / "source.bin"
        digest = make_file(source, size)
        cp_times = []
        for _ in range(args.runs):
            cp_times.append(timed(lambda: run(["cp", str(source), str(work / "copy.bin")])))
            (work / "copy.bin").unlink()

        env = None
        if args.no_accel:
            # Shadow both modules so the server's own check (`import httptools`) fails and it falls back.
            shim = work / "no-accel"
            for module in ("httptools", "uvloop"):
                (shim / module).mkdir(parents=True)
                (shim / module / "__init__.py").write_text("raise ImportError('hidden by the benchmark')\n")
            env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(shim), os.environ.get("PYTHONPATH")]))}
        server = support.start_server(work / "data", env=env)
        url, key = server.url, server.admin_key
        headers = {"Authorization": f"Simple {key}"}
        httpx.post(f"{url}/v1/data/.my", json={"name": "bench"}, headers=headers).raise_for_status()
        target = f"{url}/v1/data/.my/bench/source.bin"
        download = work / "download.bin"

        auth = ["-H", f"Authorization: Simple {key}"]

        def upload(url: str = target, extra: list[str] = auth) -> None:
            run(["curl", "-sS", "--fail", "-T", str(source), *extra, url])

        def fetch(into: Path = download, url: str = target, extra: list[str] = auth) -> None:
            run(["curl", "-sS", "--fail", "-o", str(into), *extra, url])

        sampler = RssSampler(server.process.pid)
        baseline = sampler.status("VmRSS")
        with sampler:
            cpu = sampler.cpu_seconds()
            up_times = [timed(upload) for _ in range(args.runs)]
            cpu, up_cpu = sampler.cpu_seconds(), sampler.cpu_seconds() - cpu
            down_times = []
            for run_index in range(args.runs):
                down_times.append(timed(fetch))
                if run_index < args.runs - 1:
                    download.unlink()
            down_cpu = sampler.cpu_seconds() - cpu
            # The same download thrown away: what the server sends when the client's disk is not the limit.
            discard = min(timed(lambda: fetch(Path(os.devnull))) for _ in range(args.runs))
        hwm = sampler.status("VmHWM")
        if download.stat().st_size != size or md5_of(download) != digest:
            raise SystemExit("the downloaded file differs from the uploaded one")
        download.unlink()

        def cli(*cp: str) -> None:
            done = server.cli("data", "cp", *cp)
            if done.returncode != 0:
                raise SystemExit(f"modelport data cp {' '.join(cp)} failed: {done.stderr}")

        cli_up = [timed(lambda: cli(str(source), "data://.my/bench/cli.bin")) for _ in range(args.runs)]
        cli_down = []
        for _ in range(args.runs):
            cli_down.append(timed(lambda: cli("data://.my/bench/cli.bin", str(download))))
            download.unlink()

        md5_times = [timed(lambda: md5_of(source)) for _ in range(args.runs)]
        bare_up = reference_times("sink", work, lambda url: upload(url, []), args.runs)
        bare_down = reference_times("source", source, lambda url: fetch(download, url, []), args.runs)

        best = {"cp": min(cp_times), "upload": min(up_times), "download": min(down_times), "md5": min(md5_times),
                "bare_upload": min(bare_up), "bare_download": min(bare_down), "cli_upload": min(cli_up),
                "cli_download": min(cli_down)}
        rate = {k: size / MIB / v for k, v in best.items()}
        result = {
            "bench": "data_transfer",
            "size_mib": args.size_mib,
            "runs": args.runs,
            "http": "httptools" if _has("httptools") and not args.no_accel else "h11",
            "loop": "uvloop" if _has("uvloop") and not args.no_accel else "asyncio",
            "cp_mib_s": round(rate["cp"], 1),
            "upload_mib_s": round(rate["upload"], 1),
            "download_mib_s": round(rate["download"], 1),
            "upload_vs_cp": round(rate["upload"] / rate["cp"], 3),
            "download_vs_cp": round(rate["download"] / rate["cp"], 3),
            "download_to_devnull_mib_s": round(size / MIB / discard, 1),
            "download_to_devnull_vs_cp": round(size / MIB / discard / rate["cp"], 3),
            # `modelport data cp` both ways: md5-checked on the client too.
            "cli_upload_mib_s": round(rate["cli_upload"], 1),
            "cli_download_mib_s": round(rate["cli_download"], 1),
            # The references: what bounds each figure on this machine, whatever the server does.
            "md5_one_core_mib_s": round(rate["md5"], 1),
            "md5_vs_cp": round(rate["md5"] / rate["cp"], 3),
            "bare_socket_upload_mib_s": round(rate["bare_upload"], 1),
            "bare_socket_upload_vs_cp": round(rate["bare_upload"] / rate["cp"], 3),
            "sendfile_download_mib_s": round(rate["bare_download"], 1),
            "sendfile_download_vs_cp": round(rate["bare_download"] / rate["cp"], 3),
            "seconds": {name: [round(t, 3) for t in times] for name, times in [
                ("cp", cp_times), ("upload", up_times), ("download", down_times), ("md5", md5_times),
                ("bare_socket_upload", bare_up), ("sendfile_download", bare_down), ("cli_upload", cli_up),
                ("cli_download", cli_down)]},
            # CPU time the server spent per GiB moved: unlike the rates, it does not depend on other load.
            "server_cpu_s_per_gib": {"upload": round(up_cpu / args.runs / (size / (1 << 30)), 2),
                                     "download": round(down_cpu / args.runs / (size / (1 << 30)), 2)},
            "load_average": os.getloadavg()[0],
            "rss_baseline_mib": round(baseline / MIB, 1),
            "rss_peak_growth_mib": round((sampler.peak - baseline) / MIB, 1),
            "hwm_growth_mib": round((hwm - baseline) / MIB, 1),
        }
        print(json.dumps(result))
        print(f"data_transfer {args.size_mib} MiB: upload {rate['upload']:.0f} MiB/s "
              f"({result['upload_vs_cp']:.0%} of cp), download {rate['download']:.0f} MiB/s "
              f"({result['download_vs_cp']:.0%} of cp; {result['download_to_devnull_mib_s']:.0f} MiB/s to "
              f"/dev/null), cp {rate['cp']:.0f} MiB/s; server RSS growth "
              f"{result['rss_peak_growth_mib']} MiB (VmHWM +{result['hwm_growth_mib']} MiB) "
              f"[{result['http']}, {result['loop']}]")
        print(f"modelport data cp: upload {rate['cli_upload']:.0f} MiB/s, download {rate['cli_download']:.0f} MiB/s")
        print(f"references: md5 on one core {rate['md5']:.0f} MiB/s ({result['md5_vs_cp']:.0%} of cp); "
              f"curl to a bare socket sink {rate['bare_upload']:.0f} MiB/s ({result['bare_socket_upload_vs_cp']:.0%}); "
              f"curl from a sendfile server to a file {rate['bare_download']:.0f} MiB/s "
              f"({result['sendfile_download_vs_cp']:.0%})")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def md5_of(path: Path) -> str:
    md5 = hashlib.md5()
    with path.open("rb") as f:
        while chunk := f.read(8 * MIB):
            md5.update(chunk)
    return md5.hexdigest()


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()

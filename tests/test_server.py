"""``modelport server``: first start, restart, signals, environment settings, TLS."""

from __future__ import annotations

import datetime
import signal
import sqlite3
import ssl
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import KEY_RE, free_port, start_server


def test_first_start_prints_key_once_and_restarts_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    embedded = {"MODELPORT_DATABASE_URL": ""}  # the embedded default, SQLite, in every test pass
    srv = start_server(data, "--admin-user", "root", env=embedded)
    assert "next steps" in srv.log().lower()
    r = httpx.get(srv.url + "/v1/users/root", headers={"Authorization": srv.admin_key})
    assert r.status_code == 200 and r.json()["is_admin"] is True
    assert httpx.get(srv.url + "/openapi.json").json()["paths"]["/v1/algorithms/{username}"]
    assert httpx.get(srv.url + "/docs").status_code == 200
    srv.process.send_signal(signal.SIGTERM)
    assert srv.process.wait(15) == 0
    mode = sqlite3.connect(data / "modelport.db").execute("pragma journal_mode").fetchone()[0]
    assert mode == "wal"

    again = start_server(data, expect_key=False, env=embedded)
    try:
        assert KEY_RE.search(again.log()) is None
        r = httpx.get(again.url + "/v1/users/root", headers={"Authorization": srv.admin_key})
        assert r.status_code == 200
    finally:
        again.process.send_signal(signal.SIGINT)
        assert again.process.wait(15) == 0


def test_settings_from_environment(tmp_path: Path) -> None:
    port = free_port()
    srv = start_server(tmp_path / "ignored", env={"MODELPORT_PORT": str(port)}, port=port)
    srv.stop()
    assert srv.url.endswith(f":{port}")


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address(
                "127.0.0.1"))]), critical=False).sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "modelport", "server", "--port", str(port), "--data-dir",
                             str(tmp_path / "data"), "--tls-cert", str(cert), "--tls-key", str(key)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx = ssl.create_default_context(cafile=str(cert))
    try:
        for _ in range(200):
            try:
                r = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=ctx)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert r.status_code == 200 and r.json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(15)

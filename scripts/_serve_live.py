"""Serve the built book with a local Jupyter server behind its "Live Code" button.

Usage (through scripts/serve-live): _serve_live.py [--book-port N] [--jupyter-port N] [--site DIR]

Starts ``jupyter-server`` on 127.0.0.1 (a fresh random token, CORS allowed only for the book's
own origin, notebooks' folder book/ as its root, the .venv's python3 kernel), then serves
``_build/html`` on 127.0.0.1 and answers ``/live-server.json`` with the server's address and token.
The pages' live-code script (book/_extra/live/live-code.js) reads that file when the reader
presses "Live Code", so the cells run on this machine. Ctrl-C stops both servers.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"


def jupyter_command(port: int, token: str, origin_pattern: str) -> list[str]:
    """The jupyter-server command line: local only, token auth, CORS for the book's origin."""
    server = Path(sys.executable).with_name("jupyter-server")
    cmd = [
        str(server) if server.exists() else "jupyter-server",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.allow_origin_pat={origin_pattern}",
        f"--ServerApp.root_dir={ROOT / 'book'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers often run as root; Jupyter refuses without it
    return cmd


def wait_until_up(base_url: str, token: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"jupyter-server did not answer on {base_url} within {timeout:.0f} s")
        time.sleep(0.3)


class BookHandler(SimpleHTTPRequestHandler):
    """Static files of the built book, plus the live server's settings at /live-server.json."""

    settings: bytes = b"{}"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.split("?")[0] == "/live-server.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(self.settings)))
            self.end_headers()
            self.wfile.write(self.settings)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # quiet: one line per request is noise
        pass


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="serve-live", description=__doc__.split("\n\n")[0])
    parser.add_argument("--book-port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--jupyter-port", type=int, default=int(os.environ.get("JUPYTER_PORT", 8888)))
    parser.add_argument("--site", type=Path, default=SITE, help="the built HTML book (default: _build/html)")
    args = parser.parse_args(argv)
    site = args.site.resolve()
    if not (site / "index.html").is_file():
        print(f"serve-live: no built book in {site}; run scripts/build-book first", file=sys.stderr)
        return 2

    token = secrets.token_hex(24)
    base_url = f"http://127.0.0.1:{args.jupyter_port}"
    origin = rf"http://(127\.0\.0\.1|localhost):{args.book_port}"
    log_path = site.parent / "serve-live-jupyter.log"
    # SIGTERM (e.g. from a test harness) stops both servers like Ctrl-C does
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with open(log_path, "w") as log:
        jupyter = subprocess.Popen(jupyter_command(args.jupyter_port, token, origin), cwd=ROOT / "book",
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            wait_until_up(base_url, token)
        except (RuntimeError, KeyboardInterrupt) as err:
            print(f"serve-live: {err}; jupyter-server's log ({log_path}) ends:\n"
                  + log_path.read_text()[-2000:], file=sys.stderr)
            return 1
        BookHandler.settings = json.dumps(
            {"baseUrl": base_url, "wsUrl": f"ws://127.0.0.1:{args.jupyter_port}", "token": token}
        ).encode()
        handler = functools.partial(BookHandler, directory=str(site))
        with ThreadingHTTPServer(("127.0.0.1", args.book_port), handler) as httpd:
            print(f"Book:    http://127.0.0.1:{args.book_port}/  (open a chapter, then rocket icon -> Live Code)")
            print(f"Kernels: jupyter-server on {base_url} (token-protected, local only; log: {log_path}). "
                  "Ctrl-C stops both.", flush=True)
            try:
                httpd.serve_forever()
            except KeyboardInterrupt:
                print("\nserve-live: stopping")
    finally:
        jupyter.terminate()
        try:
            jupyter.wait(timeout=10)
        except subprocess.TimeoutExpired:
            jupyter.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A local stand-in for the Hugging Face hub: the few endpoints `huggingface_hub.snapshot_download` calls for a
model or dataset repo (revision info, the file tree, `resolve/<rev>/<file>` with the headers hf_hub_download
reads), served from plain folders on 127.0.0.1. Point HF_ENDPOINT (or `endpoint=`) at `FakeHub.url`."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


def _files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class FakeHub:
    """Repos keyed by (repo type, repo id) -> folder; each repo's commit is a hash of its files."""

    def __init__(self, repos: dict[tuple[str, str], Path]):
        self.repos = {key: _files(Path(folder)) for key, folder in repos.items()}
        self.commits = {key: hashlib.sha1(json.dumps({n: _digest(p) for n, p in files.items()}).encode()).hexdigest()
                        for key, files in self.repos.items()}
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _route(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        parts = [unquote(p) for p in urlsplit(path).path.strip("/").split("/")]
        if parts[0] == "api" and len(parts) >= 6 and parts[1] in ("models", "datasets"):
            key = (parts[1][:-1], f"{parts[2]}/{parts[3]}")
            if key not in self.repos:
                return 404, {"X-Error-Code": "RepoNotFound"}, b'{"error": "Repository not found"}'
            files, sha = self.repos[key], self.commits[key]
            if parts[4] == "revision":
                body = {"id": key[1], "sha": sha, "siblings": [{"rfilename": n} for n in files]}
            elif parts[4] == "tree":
                body = [{"type": "file", "path": n, "size": p.stat().st_size, "oid": _digest(p)[:40]}
                        for n, p in files.items()]
            else:
                return 404, {}, b"{}"
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
        kind = "dataset" if parts[0] == "datasets" else "model"
        parts = parts[1:] if kind == "dataset" else parts
        if len(parts) >= 5 and parts[2] == "resolve":
            key = (kind, f"{parts[0]}/{parts[1]}")
            name = "/".join(parts[4:])
            if key not in self.repos:
                return 404, {"X-Error-Code": "RepoNotFound"}, b""
            if name not in self.repos[key]:
                return 404, {"X-Error-Code": "EntryNotFound"}, b""
            path = self.repos[key][name]
            data = path.read_bytes()
            return 200, {"ETag": f'"{_digest(path)}"', "X-Repo-Commit": self.commits[key],
                         "Content-Type": "application/octet-stream"}, data
        return 404, {}, b""

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                hub.requests.append(f"{method} {self.path}")
                status, headers, body = hub._route(method, self.path)
                self.send_response(status)
                for k, v in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(k, v)
                self.end_headers()
                if method == "GET":
                    self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                self._answer("GET")

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer("HEAD")

            def log_message(self, *args) -> None:
                pass

        return Handler

"""Downloads survive a dropped connection (retried, then verified) and leave nothing behind when they fail."""

import hashlib
import http.server
import threading

import pytest

from inception_tl.data.sources.download import RemoteFile, fetch
from inception_tl.errors import DownloadError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class FlakyHandler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD, but the first `drops` requests announce the full length and hang up halfway."""

    drops = 1
    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        if type(self).requests <= type(self).drops:
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(PAYLOAD)

    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture
def flaky_server():
    def serve(drops: int) -> str:
        handler = type("Handler", (FlakyHandler,), {"drops": drops, "requests": 0})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/data.bin", handler

    servers: list = []
    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_connection_dropped_mid_file_is_retried_and_the_result_verified(flaky_server, tmp_path):
    url, handler = flaky_server(drops=2)
    remote = RemoteFile(url, hashlib.sha256(PAYLOAD).hexdigest(), len(PAYLOAD))
    path = fetch(remote, tmp_path, retries=3, backoff_s=0)
    assert path.read_bytes() == PAYLOAD
    assert handler.requests == 3
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]  # no partial files left


def test_giving_up_after_the_retries_says_so_and_leaves_nothing(flaky_server, tmp_path):
    url, handler = flaky_server(drops=10)
    remote = RemoteFile(url, hashlib.sha256(PAYLOAD).hexdigest(), len(PAYLOAD))
    with pytest.raises(DownloadError, match="gave up after 3 attempts"):
        fetch(remote, tmp_path, retries=2, backoff_s=0)
    assert handler.requests == 3
    assert list(tmp_path.iterdir()) == []

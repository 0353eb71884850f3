"""Talking to a playground server as the page does: JSON over HTTP, and its event stream."""
import http.client
import json
import threading
import time
import urllib.parse

import pytest


class Client:
    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port

    def request(self, method, path, body=None, content_type="application/json", headers=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        all_headers = {"Content-Type": content_type} if body is not None else {}
        all_headers.update(headers or {})
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, response.getheader("Content-Type", ""), data

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body, **options):
        return self.request("POST", path, body, **options)

    def json(self, method, path, body=None, status=200):
        code, _, data = self.request(method, path, body)
        assert code == status, (code, data[:500])
        return json.loads(data)

    def frames(self, session_id, count, timeout=30):
        """The first ``count`` frames of the session's event stream (then the stream is closed)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        connection.request("GET", f"/api/session/{session_id}/events")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
        frames, deadline = [], time.monotonic() + timeout
        while len(frames) < count and time.monotonic() < deadline:
            line = response.fp.readline()
            if line.startswith(b"data: "):
                frames.append(json.loads(line[6:]))
        connection.close()
        return frames


def wait_for(condition, timeout=30, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def serve_in_thread(**options):
    """A playground server on a free port, serving from a daemon thread; returns (server, url)."""
    from bprop.playground.launch import start

    server = start(**options)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return server, server.url

"""Where autond is and how to reach it: "http://host:port[/prefix]",
"https://...", or "unix:/path/to/autond.sock" (also "unix:///path"), HTTP/1.1
with http.client - over AF_UNIX for the socket. One connection per request
(or per event stream), so a Client can be shared between threads."""
import http.client
import socket
import urllib.parse

DEFAULT_URL = "http://127.0.0.1:8470"


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX stream socket."""

    def __init__(self, path, timeout=None):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if self.timeout is not None:
                s.settimeout(self.timeout)
            s.connect(self.unix_path)
        except BaseException:
            s.close()
            raise
        self.sock = s


class Endpoint:
    """A parsed daemon URL. unix: the socket path (None over TCP); base: the
    path prefix every API path is appended to ("" normally)."""

    def __init__(self, url):
        self.url = url
        self.unix = None
        self.base = ""
        if url.startswith("unix:"):
            path = url[len("unix:"):]
            if path.startswith("//"):
                path = path[2:]
            if not path:
                raise ValueError("%r: expected unix:/path/to/autond.sock" % url)
            self.unix = path
            self.scheme = "unix"
            return
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("%r: expected http://host:port or unix:/path/to/autond.sock" % url)
        self.scheme = u.scheme
        self.host = u.hostname
        try:
            self.port = u.port or (443 if u.scheme == "https" else 80)
        except ValueError as e:
            raise ValueError("%r: %s" % (url, e)) from None
        self.base = u.path.rstrip("/")

    @property
    def is_unix(self):
        return self.unix is not None

    def connection(self, timeout):
        if self.unix is not None:
            return UnixHTTPConnection(self.unix, timeout=timeout)
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def target(self, path, query=None):
        """The request target: base + path + the query (None values left out)."""
        t = self.base + path
        if query:
            q = [(k, str(v)) for k, v in query.items() if v is not None]
            if q:
                t += "?" + urllib.parse.urlencode(q)
        return t

    def __repr__(self):
        return "Endpoint(%r)" % self.url

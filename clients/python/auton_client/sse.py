"""Server-Sent Events framing (the WHATWG event-stream format): bytes in,
events out, whatever the chunk boundaries. Lines may end in CRLF, LF or a
lone CR (also split across chunks); "data:" lines join with newlines;
comments (": keepalive") are skipped; "id:" persists as the last event id
(for Last-Event-ID on reconnection); "retry:" sets the reconnection delay;
an event with no data is not dispatched; a partial event at the end of the
stream is dropped, as the format says."""
import json
import re

_EOL = re.compile(rb"\r\n|\r|\n")


class Event(tuple):
    """One event as a (type, data) pair - data the parsed JSON value (the raw
    string when it is not JSON) - with .type, .data, .id (the event's id, or
    None when it had none) and .raw (the data text)."""

    def __new__(cls, type_, data, id_=None, raw=""):
        self = tuple.__new__(cls, (type_, data))
        self.id = id_
        self.raw = raw
        return self

    @property
    def type(self):
        return self[0]

    @property
    def data(self):
        return self[1]

    def __repr__(self):
        return "Event(%r, %r, id=%r)" % (self[0], self[1], self.id)


def decode_data(text):
    """The event's data as JSON, or the text itself when it is not JSON."""
    if text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


class SSEParser:
    """Incremental parser: feed(chunk) returns the events the chunk completed."""

    def __init__(self):
        self._buf = b""
        self._skip_lf = False  # the last chunk ended in CR: a leading LF belongs to it
        self._first_line = True
        self._data = []
        self._type = ""
        self._id = None  # the id field of the event being read
        self.last_id = None  # the last id seen (persists across events, as in the spec)
        self.retry_ms = None

    def feed(self, chunk):
        buf = self._buf + chunk
        if self._skip_lf and buf.startswith(b"\n"):
            buf = buf[1:]
        self._skip_lf = False
        out, pos = [], 0
        while True:
            m = _EOL.search(buf, pos)
            if not m:
                break
            if m.group() == b"\r" and m.end() == len(buf):
                self._skip_lf = True
            ev = self._line(buf[pos:m.start()])
            if ev is not None:
                out.append(ev)
            pos = m.end()
        self._buf = buf[pos:]
        return out

    def _line(self, raw):
        line = raw.decode("utf-8", "replace")
        if self._first_line:
            self._first_line = False
            line = line.lstrip("\ufeff")
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._type = value
        elif field == "id":
            if "\0" not in value:
                self._id = value
                self.last_id = value
        elif field == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self):
        data, type_, id_ = self._data, self._type or "message", self._id
        self._data, self._type, self._id = [], "", None
        if not data:
            return None
        raw = "\n".join(data)
        return Event(type_, decode_data(raw), _as_int(id_), raw)


def _as_int(v):
    if v is None:
        return None
    try:
        return int(v)
    except ValueError:
        return v

"""Client: autond's HTTP API (schemas/openapi.yaml) as Python calls -
integrations (submit, follow, wait, cancel, report, logs), the job list,
the agent tools (POST /v1/tools/{name}), models, nightly runs, health and
metrics. Answers are the API's JSON as dicts and lists; error answers raise
AutonError, an unreachable daemon AutonConnectionError."""
import http.client
import json
import os
import time
import urllib.parse
from collections import namedtuple

from .errors import AutonConnectionError, AutonError, AutonTimeout
from .sse import SSEParser
from .transport import DEFAULT_URL, Endpoint

__all__ = ["Client", "LogChunk", "TERMINAL", "TOOLS"]

# A job's final states (openapi.yaml State; "done": an agent tool's job that succeeded).
TERMINAL = ("committed", "rolled_back", "failed", "canceled", "interrupted", "done")
# The agent tools POST /v1/tools/{name} knows; is-gibberish answers at once.
TOOLS = ("integrate-slm-model", "build-kernel", "test-kernel-boot", "test-slm-inference",
         "is-gibberish")
# Tool arguments that name files: made absolute when they exist relative to
# the caller's directory (autond does not share it).
_PATH_ARGS = ("model_path", "kernel_workspace", "manifest_path", "workspace_path")
_VERSION = "1.0.0"

# One read of a log: text (decoded, invalid UTF-8 replaced), the offset to
# ask for next, and the job's state when it was read.
LogChunk = namedtuple("LogChunk", ["text", "offset", "state"])

_CONN_ERRORS = (OSError, http.client.HTTPException)


def _env_token():
    token = os.environ.get("AUTON_TOKEN")
    if token:
        return token.strip()
    path = os.environ.get("AUTON_TOKEN_FILE")
    if path:
        return _read_token(path)
    return None


def _read_token(path):
    try:
        with open(path, encoding="utf-8") as f:
            return (f.readline() or "").strip() or None
    except OSError as e:
        raise AutonError(None, "token_file", "cannot read the token file %s: %s" %
                         (path, e.strerror or e)) from None


def _quote(part):
    return urllib.parse.quote(str(part), safe="")


def _error_of(status, body):
    """The AutonError for an error answer ({"error": {"code", "message"}}, or
    whatever the body was when it is not that)."""
    try:
        err = json.loads(body)["error"]
        return AutonError(status, err.get("code") or "http_%d" % status,
                          err.get("message") or "")
    except (ValueError, KeyError, TypeError, AttributeError):
        text = body.decode("utf-8", "replace").strip()[:500]
        return AutonError(status, "http_%d" % status, text or http.client.responses.get(status, ""))


class Client:
    """A connection to autond.

    url: "http://127.0.0.1:8470" (TCP; the bearer token is sent), or
    "unix:/path/to/autond.sock" (no token needed); default $AUTON_URL, else
    http://127.0.0.1:8470. token: default $AUTON_TOKEN, else the first line
    of token_file or $AUTON_TOKEN_FILE. timeout: seconds for one request.
    stream_timeout: seconds without a byte after which an event stream is
    taken as dropped (autond sends a keepalive every 15 s) and reopened.
    reconnect_for: how long an event stream keeps trying to reconnect before
    AutonConnectionError. A Client holds no connection between calls: one
    can be shared by threads."""

    def __init__(self, url=None, token=None, timeout=30.0, token_file=None,
                 stream_timeout=60.0, reconnect_for=60.0):
        self.url = url or os.environ.get("AUTON_URL") or DEFAULT_URL
        self._ep = Endpoint(self.url)
        if token is None and token_file is not None:
            token = _read_token(token_file)
        self.token = token if token is not None else _env_token()
        self.timeout = timeout
        self.stream_timeout = stream_timeout
        self.reconnect_for = reconnect_for

    def __repr__(self):
        return "Client(%r)" % self.url

    # ---- HTTP -----------------------------------------------------------------------------------

    def _headers(self, extra=None):
        h = {"User-Agent": "auton-client/" + _VERSION, "Accept": "application/json"}
        if self.token and not self._ep.is_unix:
            h["Authorization"] = "Bearer " + self.token
        h.update(extra or {})
        return h

    def _open(self, method, path, query=None, body=None, headers=None, timeout=None):
        """Sends a request; returns (connection, response) with a 2xx status
        (the caller reads and closes). Error answers raise AutonError."""
        h = self._headers(headers)
        if body is not None:
            body = json.dumps(body).encode("utf-8")
            h["Content-Type"] = "application/json"
        conn = self._ep.connection(timeout if timeout is not None else self.timeout)
        try:
            conn.request(method, self._ep.target(path, query), body=body, headers=h)
            resp = conn.getresponse()
            if resp.status >= 300:
                raise _error_of(resp.status, resp.read())
            return conn, resp
        except _CONN_ERRORS as e:
            conn.close()
            raise AutonConnectionError(self.url, _reason(e)) from None
        except BaseException:
            conn.close()
            raise

    def request(self, method, path, query=None, body=None, headers=None):
        """One request: returns (status, headers, body bytes) of a 2xx answer."""
        conn, resp = self._open(method, path, query, body, headers)
        try:
            data = resp.read()
            return resp.status, resp.headers, data
        except _CONN_ERRORS as e:
            raise AutonConnectionError(self.url, _reason(e)) from None
        finally:
            conn.close()

    def _json(self, method, path, query=None, body=None, headers=None):
        status, _, data = self.request(method, path, query, body, headers)
        try:
            return json.loads(data)
        except ValueError:
            raise AutonError(status, "bad_response",
                             "%s %s: the answer is not JSON: %r" % (method, path, data[:200])
                             ) from None

    # ---- the daemon -----------------------------------------------------------------------------

    def health(self):
        """GET /v1/health: {status, version, uptime_s, running, max_jobs, ...}."""
        return self._json("GET", "/v1/health")

    def metrics(self):
        """GET /metrics: the Prometheus text."""
        return self.request("GET", "/metrics")[2].decode("utf-8", "replace")

    def models(self):
        """GET /v1/models: {roots, items: [{name, path, root, bytes, manifest, sha256...}]}."""
        return self._json("GET", "/v1/models")

    def nightly(self, limit=None):
        """GET /v1/nightly: {enabled, time, models, archs, runs, trends}."""
        return self._json("GET", "/v1/nightly", {"limit": limit})

    def nightly_run(self):
        """POST /v1/nightly/run: starts a run now; {id, trigger, jobs: [job ids]}."""
        return self._json("POST", "/v1/nightly/run")

    def rollback(self, arch="x86_64", reason=None):
        """POST /v1/workspaces/{arch}/rollback: queues the move of main to the
        rule engine; returns the job."""
        body = {"reason": reason} if reason is not None else None
        return self._json("POST", "/v1/workspaces/%s/rollback" % _quote(arch), body=body)

    # ---- jobs -----------------------------------------------------------------------------------

    def submit(self, model, manifest=None, arch=None, prompts=None, rollback=None, fallback=None,
               priority=None, bridge=None, idempotency_key=None):
        """POST /v1/integrations: queues an integration; returns the job (state
        queued or running). idempotency_key: a retried submit with the same key
        and body returns the first job instead of queueing another."""
        body = {"model": model}
        for k, v in (("manifest", manifest), ("arch", arch), ("prompts", prompts),
                     ("rollback", rollback), ("fallback", fallback), ("priority", priority),
                     ("bridge", bridge)):
            if v is not None:
                body[k] = v
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._json("POST", "/v1/integrations", body=body, headers=headers)

    def integrate(self, model, manifest=None, arch=None, prompts=None, rollback=None,
                  fallback=None, priority=None, idempotency_key=None, wait=True, on_event=None,
                  timeout=None, bridge=None):
        """Submits an integration. wait=False: returns the job at once. wait=True:
        follows its events to the end (on_event(type, data) for each) and returns
        the final job (with its stages) and, under "report", its
        integration_test_report.json (None when the job wrote none)."""
        job = self.submit(model, manifest, arch, prompts, rollback, fallback, priority, bridge,
                          idempotency_key)
        if not wait:
            return job
        final = self.wait(job["id"], timeout=timeout, on_event=on_event)
        final["report"] = self._report_or_none(job["id"])
        return final

    def _report_or_none(self, job_id):
        try:
            return self.report(job_id)
        except AutonError as e:
            if e.status == 404 and e.code == "no_report":
                return None
            raise

    def job(self, job_id):
        """GET /v1/integrations/{id}: the job, its stages and webhook deliveries."""
        return self._json("GET", "/v1/integrations/" + _quote(job_id))

    def jobs(self, state=None, limit=None, page_size=None):
        """The jobs, newest first (state: only those in it), as an iterator that
        fetches the pages (next_cursor) as it goes; limit: at most that many.
        The first page is fetched at once, so a bad argument raises here."""
        size = min(page_size or 50, 1000)
        first = self._page(state, size if limit is None else max(1, min(size, limit)), None)
        return self._iter_jobs(first, state, limit, size)

    def _page(self, state, size, cursor):
        return self._json("GET", "/v1/integrations",
                          {"state": state, "limit": size, "cursor": cursor})

    def _iter_jobs(self, page, state, limit, size):
        n = 0
        while True:
            for item in page.get("items", []):
                if limit is not None and n >= limit:
                    return
                yield item
                n += 1
            cursor = page.get("next_cursor")
            if not cursor or not page.get("items") or (limit is not None and n >= limit):
                return
            page = self._page(state, size if limit is None else min(size, limit - n), cursor)

    def report(self, job_id):
        """GET /v1/integrations/{id}/report: integration_test_report.json
        (AutonError 404 no_report while the job has none)."""
        return self._json("GET", "/v1/integrations/%s/report" % _quote(job_id))

    def cancel(self, job_id):
        """POST /v1/integrations/{id}/cancel: returns the job (canceled, or being
        canceled); AutonError 409 job_finished when it had already ended."""
        return self._json("POST", "/v1/integrations/%s/cancel" % _quote(job_id))

    def logs(self, job_id, which, offset=0):
        """GET /v1/integrations/{id}/logs/{build|console}?offset=: a LogChunk
        (text, offset to ask for next, the job's state)."""
        status, headers, data = self.request(
            "GET", "/v1/integrations/%s/logs/%s" % (_quote(job_id), _quote(which)),
            {"offset": offset or None})
        nxt = headers.get("X-Log-Offset")
        return LogChunk(data.decode("utf-8", "replace"),
                        int(nxt) if nxt is not None else offset + len(data),
                        headers.get("X-Job-State"))

    # ---- events ---------------------------------------------------------------------------------

    def events(self, job_id, after=None, timeout=None):
        """The job's events (GET .../events, Server-Sent Events) as an iterator
        of (type, data) pairs (sse.Event: also .id), every event once and in
        order, ending after ("end", {"state": ...}). after: only events
        numbered above it. A dropped stream is reopened with Last-Event-ID
        (for up to reconnect_for seconds of failures). timeout: AutonTimeout
        when the job has not ended after that many seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return self._follow(job_id, after, deadline, timeout)

    def _follow(self, job_id, after, deadline, timeout):
        path = "/v1/integrations/%s/events" % _quote(job_id)
        last_id, down_since, delay = None, None, 0.1
        while True:
            headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
            query = None
            if last_id is not None:
                headers["Last-Event-ID"] = str(last_id)
            elif after is not None:
                query = {"after": after}
            parser = SSEParser()
            try:
                conn, resp = self._open("GET", path, query, headers=headers,
                                        timeout=self._stream_wait(deadline))
            except AutonConnectionError:
                conn = None
            if conn is not None:
                try:
                    while True:
                        self._check(deadline, job_id, timeout)
                        chunk = resp.read1(65536)
                        if not chunk:
                            break  # closed before the end event: reopen
                        down_since, delay = None, 0.1
                        for ev in parser.feed(chunk):
                            if ev.id is not None:
                                last_id = ev.id
                            yield ev
                            if ev.type == "end":
                                return
                except _CONN_ERRORS:
                    pass
                finally:
                    conn.close()
            now = time.monotonic()
            down_since = down_since or now
            if now - down_since > self.reconnect_for:
                raise AutonConnectionError(self.url, "the event stream of job %s dropped and "
                                           "could not be reopened for %.0f s" %
                                           (job_id, self.reconnect_for))
            self._check(deadline, job_id, timeout)
            if parser.retry_ms is not None:
                delay = parser.retry_ms / 1000.0
            time.sleep(delay if deadline is None else
                       max(0.0, min(delay, deadline - time.monotonic())))
            delay = min(delay * 2, 2.0)

    def _stream_wait(self, deadline):
        if deadline is None:
            return self.stream_timeout
        return max(0.5, min(self.stream_timeout, deadline - time.monotonic()))

    @staticmethod
    def _check(deadline, job_id, timeout):
        if deadline is not None and time.monotonic() > deadline:
            raise AutonTimeout(job_id, timeout)

    def wait(self, job_id, timeout=None, on_event=None):
        """Follows the job's events to its end (on_event(type, data) for each);
        returns the final job. timeout: AutonTimeout after that many seconds."""
        stream = self.events(job_id, timeout=timeout)
        try:
            for ev in stream:
                if on_event is not None:
                    on_event(ev[0], ev[1])
        finally:
            stream.close()  # at once, even when on_event raised
        return self.job(job_id)

    # ---- agent tools ----------------------------------------------------------------------------

    def tool(self, name, *, on_event=None, timeout=None, **args):
        """Runs an agent tool (POST /v1/tools/{name}; "build_kernel" and
        "build-kernel" are the same) and returns its result dict: {success,
        logs, ...}. is-gibberish answers at once; the others run as jobs,
        followed to their end (on_event as for wait), then their result is
        fetched. Arguments that are None are left out."""
        name = name.replace("_", "-")
        job = self.tool_submit(name, **args)
        if "success" in job and "state" not in job:
            return job  # answered at once
        self.wait(job["id"], timeout=timeout, on_event=on_event)
        return self.tool_result(job["id"])

    def tool_submit(self, name, **args):
        """POST /v1/tools/{name}: is-gibberish's result, or the job of another tool."""
        body = {k: _local_path(v) if k in _PATH_ARGS else v
                for k, v in args.items() if v is not None}
        return self._json("POST", "/v1/tools/" + _quote(name.replace("_", "-")), body=body)

    def tool_result(self, job_id):
        """GET /v1/integrations/{id}/result: a finished tool job's result."""
        return self._json("GET", "/v1/integrations/%s/result" % _quote(job_id))


def _local_path(v):
    if isinstance(v, str) and v and not os.path.isabs(v) and os.path.exists(v):
        return os.path.abspath(v)
    return v


def _reason(e):
    """A connection error's text: "Connection refused", "timed out"..."""
    if isinstance(e, TimeoutError):
        return "timed out"
    if isinstance(e, OSError):
        return e.strerror or str(e) or type(e).__name__
    return "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__

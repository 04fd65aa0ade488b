"""The client's exceptions: AutonError for every answer the daemon refused
(its JSON error body's status, code and message), AutonConnectionError when
the daemon could not be reached or the connection broke, AutonTimeout when a
wait ran past its time limit."""


class AutonError(Exception):
    """An error answer of autond: status (the HTTP status), code (the API's
    error code: "unknown_job", "outside_roots"...) and message."""

    def __init__(self, status, code, message):
        super().__init__(status, code, message)
        self.status = status
        self.code = code
        self.message = message

    def __str__(self):
        if self.status is None:
            return "%s: %s" % (self.code, self.message)
        return "%s %s: %s" % (self.status, self.code, self.message)


class AutonConnectionError(AutonError):
    """autond did not answer at url (refused, no such socket, timed out, or the
    connection dropped mid-answer). reason is the underlying error's text."""

    def __init__(self, url, reason):
        super().__init__(None, "connection", "cannot reach autond at %s: %s" % (url, reason))
        self.url = url
        self.reason = reason


class AutonTimeout(AutonError):
    """A wait for a job ran past its timeout (the job itself goes on)."""

    def __init__(self, job_id, timeout):
        super().__init__(None, "timeout", "job %s did not end within %s s" % (job_id, timeout))
        self.job_id = job_id
        self.timeout = timeout

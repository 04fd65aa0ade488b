"""auton_client - drive autond, the AUTON integrator daemon, from Python
(standard library only).

    from auton_client import Client
    c = Client("unix:/srv/auton/var/run/autond.sock")   # or http://host:8470 + token
    job = c.integrate("auton-slm.gguf")                   # waits; job["state"] == "committed"

The integration spec's agent tools, with its signatures, run through the
daemon (POST /v1/tools/{name}) with a Client built from the environment
(AUTON_URL, AUTON_TOKEN or AUTON_TOKEN_FILE):

    integrate_slm_model(model_path, kernel_workspace, manifest_path)
    build_kernel(workspace_path, arch)
    test_kernel_boot(workspace_path, arch)
    test_slm_inference(workspace_path, arch, test_prompts)
    is_gibberish(text) -> bool

Each returns the tool's result dict ({"success", "logs", ...}). A workspace
must be a directory under the daemon's [workspace] root, a model or
manifest a path under its model roots."""
from .client import TERMINAL, TOOLS, Client, LogChunk
from .errors import AutonConnectionError, AutonError, AutonTimeout
from .sse import Event, SSEParser

__version__ = "1.0.0"
__all__ = [
    "Client", "AutonError", "AutonConnectionError", "AutonTimeout", "Event", "LogChunk",
    "SSEParser", "TERMINAL", "TOOLS", "default_client", "set_default_client", "integrate",
    "events", "integrate_slm_model", "build_kernel", "test_kernel_boot", "test_slm_inference",
    "is_gibberish",
]

# The Client the module-level functions use; None: a new one from the
# environment at each call (so a changed AUTON_URL is seen). The one mutable
# global of the package, set only through set_default_client.
_default = None


def set_default_client(client):
    """Makes the module-level functions use client (None: the environment again)."""
    global _default
    _default = client


def default_client():
    """The Client the module-level functions use."""
    return _default if _default is not None else Client()


def integrate(model, **kw):
    """Client.integrate with the default client: submits and (wait=True) waits;
    returns the final job with its report."""
    return default_client().integrate(model, **kw)


def events(job_id):
    """Client.events with the default client: the job's (type, data) events."""
    return default_client().events(job_id)


def integrate_slm_model(model_path, kernel_workspace, manifest_path):
    """Copies the model and its manifest into the workspace's kernel/slm/models/
    (hashed and verified against the manifest) and sets its Makefile to embed
    it. Returns the integration result ({"success", "logs", ...})."""
    return default_client().tool("integrate-slm-model", model_path=model_path,
                                 kernel_workspace=kernel_workspace, manifest_path=manifest_path)


def build_kernel(workspace_path, arch):
    """Builds the workspace's kernel.elf and checks it (symbols, section, size).
    Returns {"success", "logs", "kernel", "kernel_bytes", "symbols", ...}."""
    return default_client().tool("build-kernel", workspace_path=workspace_path, arch=arch)


def test_kernel_boot(workspace_path, arch):
    """Boots the workspace's kernel.elf in QEMU to its shell. Returns {"success",
    "logs" (the boot log), "boot_ms", "panic", "slm_ready", ...}."""
    return default_client().tool("test-kernel-boot", workspace_path=workspace_path, arch=arch)


test_kernel_boot.__test__ = False


def test_slm_inference(workspace_path, arch, test_prompts):
    """Boots the workspace's kernel and asks it each prompt. Returns {"success",
    "logs", "outputs" (one string per prompt, in order), "results", ...}."""
    return default_client().tool("test-slm-inference", workspace_path=workspace_path, arch=arch,
                                 test_prompts=list(test_prompts))


test_slm_inference.__test__ = False


def is_gibberish(text):
    """Whether text is gibberish, by the daemon's own coherence check (the one
    its validate stage applies)."""
    return bool(default_client().tool("is-gibberish", text=text)["gibberish"])

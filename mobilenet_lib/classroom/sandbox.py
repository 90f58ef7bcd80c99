"""Run one submission in a bubblewrap (``bwrap``) sandbox and talk to it over a pipe.

The sandbox is two nested ``bwrap`` calls:

1. the outer one (run by the grader, as root here) makes new PID, network, IPC, UTS, cgroup and
   mount namespaces whose file system holds only read-only binds of ``/usr``, the Python install,
   the virtual environment and the library's source, plus a size-limited private tmpfs ``/tmp``
   (the only writable place; it vanishes with the sandbox). The repository, the masters, the hidden
   tests, the other submissions and the grades are not in it at all;
2. inside it, ``setpriv`` drops to an unprivileged uid (:func:`uid_for`: one per parallel
   worker, so one sandbox's process limit cannot starve another's) with no capabilities and
   ``no_new_privs``, ``prlimit`` sets CPU time, address space, process, file-size and open-file
   limits, and an inner ``bwrap --unshare-user`` adds a user namespace.

(The outer bwrap must do the mounting because the Python install lives under ``/root``, which
the unprivileged uid cannot traverse.) ``--die-with-parent`` and the PID namespace make the kill
reliable: killing the outer bwrap kills its init, and the kernel then kills every process in the
namespace, whatever the student's code did to its process group or session.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mobilenet_lib.classroom import wire

UID_BASE = 61000
SLOTS = 64  # uids per grading process; --workers may not exceed it


def uid_for(slot: int) -> int:
    """The sandbox uid of worker ``slot`` in this grading process. Two graders at once (two
    courses, or two test files) get disjoint uids: otherwise one's clean-up of 'processes left
    under the sandbox uid' kills the other's running sandboxes, and they share one process limit."""
    if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot < SLOTS:
        raise ValueError(f"slot must be an integer in [0, {SLOTS}), got {slot!r}")
    return UID_BASE + (os.getpid() % 4096) * SLOTS + slot
INSTALL_HINT = "install bubblewrap (Debian: apt-get install -y bubblewrap), then grade again"
MAX_LINE = 32 * 2**20


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot create the namespaces here: grading refuses to run unisolated."""


class SandboxStopped(RuntimeError):
    """The sandbox ended, broke the protocol or ran past its time; the message says which."""


@dataclass
class GradeLimits:
    """Limits for one submission: seconds in all, per cell and per call of the student's code;
    bytes of printed output kept, of memory (address space), of any file written and of scratch
    space; processes (threads count) of the sandbox's uid."""

    total_s: float = 300.0
    cell_s: float = 60.0
    test_s: float = 30.0
    output_bytes: int = 64_000
    memory_bytes: int = 8 * 2**30
    file_bytes: int = 64 * 2**20
    scratch_bytes: int = 128 * 2**20
    processes: int = 64

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"GradeLimits.{name} must be a positive number, got {value!r}")


def _ancestors(path: Path) -> list[str]:
    return [str(p) for p in reversed(path.parents) if str(p) != "/"]


def _read_only_roots() -> list[Path]:
    """What Python needs: its install, the virtual environment and the library's source."""
    import mobilenet_lib

    lib = Path(mobilenet_lib.__file__).resolve().parent
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), lib}
    return sorted(r for r in roots if not any(o != r and o in r.parents for o in roots))


def command(argv: list[str], slot: int, limits: GradeLimits) -> list[str]:
    """The full command line that runs ``argv`` in a sandbox for worker ``slot``."""
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(f"bwrap not found: {INSTALL_HINT}")
    uid = str(uid_for(slot))
    outer = [
        "bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup",
        "--die-with-parent", "--new-session", "--hostname", "grading",
        "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin", "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
    ]
    # The scratch tmpfs goes first: a checkout under /tmp (a clone in /tmp/x) is then bound on top
    # of it instead of being hidden by it.
    outer += ["--proc", "/proc", "--dev", "/dev", "--size", str(int(limits.scratch_bytes)), "--tmpfs", "/tmp"]
    roots = _read_only_roots()
    for r in roots:
        outer += ["--ro-bind", str(r), str(r)]
    for d in sorted({a for r in roots for a in _ancestors(r)} - {"/tmp"}):
        outer += ["--chmod", "0755", d]  # bwrap copies the (possibly private) modes of the parents
    outer += ["--chmod", "1777", "/tmp", "--remount-ro", "/", "--chdir", "/tmp", "--"]
    drop = [
        "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
        "--bounding-set=-all", "--no-new-privs",
    ]
    cpu = int(limits.total_s) + 5
    rlimits = [
        "prlimit", f"--cpu={cpu}", f"--as={int(limits.memory_bytes)}", f"--nproc={int(limits.processes)}",
        f"--fsize={int(limits.file_bytes)}", "--nofile=256", "--core=0", "--",
    ]
    inner = ["bwrap", "--unshare-user", "--uid", uid, "--gid", uid, "--dev-bind", "/", "/", "--die-with-parent", "--chdir", "/tmp", "--"]
    return outer + drop + rlimits + inner + argv


def environment() -> dict[str, str]:
    """A clean environment: nothing of the grader's leaks in; one thread for the math libraries."""
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
           "MPLCONFIGDIR": "/tmp", "XDG_CACHE_HOME": "/tmp", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return env


def sandbox_processes(slot: int) -> list[int]:
    """PIDs of processes running as the sandbox uid of ``slot`` (there should be none after grading)."""
    uid, found = uid_for(slot), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="utf-8") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            found.append(int(entry))
                        break
        except (OSError, ValueError):
            continue
    return found


def check_available() -> None:
    """Run a trivial command in a sandbox; raise :class:`SandboxUnavailable` if that fails."""
    argv = [sys.executable, "-I", "-S", "-c", "import os; print(os.getuid())"]
    try:
        done = subprocess.run(command(argv, 0, GradeLimits()), env=environment(), capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SandboxUnavailable(f"the sandbox did not start ({e}): {INSTALL_HINT}") from None
    if done.returncode != 0 or done.stdout.strip() != str(uid_for(0)).encode():
        err = done.stderr.decode("utf-8", "replace").strip()[-300:]
        raise SandboxUnavailable(f"the sandbox does not work here (bwrap said: {err or done.returncode}): {INSTALL_HINT}")


class Sandbox:
    """One running sandbox: send a message, get one back, kill it all at the deadline."""

    def __init__(self, argv: list[str], slot: int, limits: GradeLimits, log: Path) -> None:
        self.slot = slot
        self.deadline = time.monotonic() + limits.total_s
        self.total_s = limits.total_s
        self._buf = b""
        self.stopped: str | None = None
        with open(log, "wb") as log_file:  # the sandbox's stdout/stderr; capped by RLIMIT_FSIZE
            self.proc = subprocess.Popen(
                command(argv, slot, limits), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
                env=environment(), start_new_session=True, close_fds=True,
            )

    def send(self, message: dict[str, Any]) -> None:
        if self.stopped:
            raise SandboxStopped(self.stopped)
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(wire.dumps(message))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.stop("the notebook's process ended early")
            raise SandboxStopped(self.stopped) from None

    def receive(self, timeout: float) -> dict[str, Any]:
        """The next message, within ``timeout`` seconds (and the total limit)."""
        if self.stopped:
            raise SandboxStopped(self.stopped)
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        until = min(time.monotonic() + timeout, self.deadline)
        while b"\n" not in self._buf:
            left = until - time.monotonic()
            if left <= 0:
                if until >= self.deadline:
                    self.stop(f"stopped: the notebook ran longer than the {self.total_s:g} s limit")
                else:
                    self.stop(f"stopped: the notebook's code ran longer than {timeout:g} s without answering")
                raise SandboxStopped(self.stopped)
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                code = self.proc.wait()
                why = f"killed by signal {-code} (memory or CPU limit?)" if code < 0 else f"exit code {code}"
                self.stop(f"stopped: the notebook's process ended ({why})")
                raise SandboxStopped(self.stopped)
            self._buf += chunk
            if len(self._buf) > MAX_LINE:
                self.stop("stopped: the notebook sent too much to the grader")
                raise SandboxStopped(self.stopped)
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            return wire.loads(line)
        except wire.WireError as e:
            self.stop(f"stopped: the notebook's process sent something that is not an answer ({e})")
            raise SandboxStopped(self.stopped) from None

    def stop(self, why: str = "done") -> None:
        """Kill the whole sandbox (idempotent) and reap anything left with its uid."""
        if self.stopped is None:
            self.stopped = why
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the outer bwrap: its death ends the namespace
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        # Belt and braces: the PID namespace is gone, so this finds nothing unless the kernel lags.
        for _ in range(50):
            left = sandbox_processes(self.slot)
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.1)

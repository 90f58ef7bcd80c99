"""Classroom assignments: build student versions with otter-grader, grade submissions in isolation.

Two commands (see README.md, "Classroom assignments"):

* ``scripts/assign-build`` runs ``otter assign`` on every master notebook
  ``assignments/<name>/<name>.ipynb`` and writes ``assignments/dist/<name>/student/`` (solutions
  and hidden tests removed; public tests in the notebook's metadata) and
  ``assignments/dist/<name>/autograder/`` (the reference solution, every test in its metadata).
  It refuses to finish if any solution line survives in a student notebook. The book's
  assignments page builds the student versions the same way, at build time (book/_ext/assignments.py).
* ``scripts/assign-grade SUBMISSIONS [-o OUT]`` grades every ``*.ipynb`` under SUBMISSIONS and
  writes, per assignment, ``OUT/<assignment>/scores.csv`` (one row per student, one column per
  question) and ``OUT/<assignment>/feedback/<student>.md``.

Why not ``otter grade`` / ``otter run``: ``otter grade`` needs Docker, and ``otter run`` executes the
submission with the tests copied into its working directory (``submission/tests``), where the
submission can read them, in a kernel whose results file it could overwrite. So grading here uses
otter for what it is good at (the assignment format, the student/autograder split, the test-file
format and scoring: ``ExceptionTestFile`` / ``TestCaseResult``) and runs each submission itself:

* in a **forked process** of its own (torch is imported once, before forking), in its own process
  group, killed when it passes the **total time limit**; each cell and each test case also has a
  time limit (an alarm), so one endless loop costs only the question it is in;
* in a **scratch folder** holding only a copy of the submission (the original is never opened for
  writing), with ``HOME`` / ``TMPDIR`` pointing there;
* behind a Python **audit hook** that refuses to open, list or change anything in the repository
  (except the installed library and the virtual environment), the submissions, the output folder
  and the hidden tests' source, refuses writes and deletions outside the scratch folder, and
  refuses starting processes, sending signals, sockets and ``ctypes``; plus resource limits
  (address space, file size, CPU time) and capped ``print`` output;
* the hidden tests are read by the parent and handed to the child in memory; ``mobilenet_lib.classroom.checks``
  and torch's functions are restored after the student's cells run, so monkeypatching them does not
  change the verdict.

This guards the grading of a class against mistakes and casual mischief. It is not a security
boundary against a determined attacker with arbitrary code execution (who could, e.g., write a
forged result to the result pipe); for high-stakes grading, run submissions in containers
(``otter grade`` with Docker) or as an unprivileged user.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import select
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# The repository checkout that holds the masters (assignments/<name>/<name>.ipynb).
ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = ROOT / "assignments"
DIST = ASSIGNMENTS / "dist"

__all__ = [
    "GradeLimits",
    "QuestionResult",
    "SubmissionResult",
    "assignment_names",
    "build",
    "grade",
    "load_tests",
    "solution_lines",
]


# --------------------------------------------------------------------------------------------
# Building the student and autograder versions
# --------------------------------------------------------------------------------------------


def assignment_names(root: Path = ASSIGNMENTS) -> list[str]:
    """Every assignment: a folder ``<name>`` holding a master notebook ``<name>.ipynb``."""
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / f"{p.name}.ipynb").is_file())


def _check_names(names: Iterable[str] | None) -> list[str]:
    known = assignment_names()
    chosen = list(known if names is None else names)
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise ValueError(f"unknown assignment(s) {unknown}; the assignments are {known}")
    return chosen


def _code_cells(nb_path: Path) -> list[str]:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in nb["cells"] if c["cell_type"] == "code"]


def solution_lines(master: Path) -> list[str]:
    """The code lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` in a master notebook
    (comments and lines with fewer than four letters or digits, such as ``)``, left out)."""
    lines, inside = [], False
    for source in _code_cells(master):
        for line in source.splitlines():
            stripped = line.strip()
            if stripped.startswith("# BEGIN SOLUTION"):
                inside = True
            elif stripped.startswith("# END SOLUTION"):
                inside = False
            elif inside and len(re.sub(r"\W", "", stripped)) >= 4 and not stripped.startswith("#"):
                lines.append(stripped)  # skips bare brackets such as ")", which prove nothing
    return lines


def _leaked_lines(master: Path, student: Path) -> list[str]:
    """Solution lines found anywhere in the student file (code, metadata, outputs), as raw text.

    Lines that also appear in the master *outside* its solutions (in other code, or quoted in a
    question's text on purpose) are not evidence of a leak and are skipped.
    """
    text = student.read_text(encoding="utf-8")
    prose = "\n".join(
        "".join(c["source"]) for c in json.loads(master.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "markdown"
    )
    outside = set()
    inside = False
    for source in _code_cells(master):
        for line in source.splitlines():
            s = line.strip()
            if s.startswith("# BEGIN SOLUTION"):
                inside = True
            elif s.startswith("# END SOLUTION"):
                inside = False
            elif not inside:
                outside.add(s)
    # json.dumps escapes quotes and backslashes the way the notebook file stores them.
    return [
        line
        for line in solution_lines(master)
        if line not in outside and line not in prose and json.dumps(line)[1:-1] in text
    ]


def build(names: Iterable[str] | None = None, out: Path = DIST) -> dict[str, Path]:
    """Run ``otter assign`` on each master notebook; return the student notebook of each assignment.

    Writes ``out/<name>/student/<name>.ipynb`` and ``out/<name>/autograder/<name>.ipynb``.

    Raises:
        ValueError: on an unknown assignment name.
        RuntimeError: if a student notebook still contains a line of the solution.
    """
    from otter.assign import main as otter_assign

    students = {}
    for name in _check_names(names):
        master = ASSIGNMENTS / name / f"{name}.ipynb"
        result = Path(out) / name
        if result.exists():
            shutil.rmtree(result)
        otter_assign(str(master), str(result), no_pdfs=True, no_run_tests=True)
        student = result / "student" / f"{name}.ipynb"
        leaked = _leaked_lines(master, student)
        if leaked:
            raise RuntimeError(f"{student} still contains solution lines: {leaked[:3]}")
        students[name] = student
    return students


def load_tests(name: str, dist: Path = DIST) -> dict[str, str]:
    """The test files (question name -> exception-based otter test source) of a built assignment."""
    autograder = Path(dist) / name / "autograder" / f"{name}.ipynb"
    if not autograder.is_file():
        raise FileNotFoundError(f"{autograder} does not exist: run scripts/assign-build first")
    meta = json.loads(autograder.read_text(encoding="utf-8"))["metadata"]["otter"]
    return dict(sorted(meta["tests"].items()))


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass
class GradeLimits:
    """Limits for one submission: seconds in all, per cell and per test case; bytes of printed
    output kept, of memory (address space) and of any file written."""

    total_s: float = 300.0
    cell_s: float = 60.0
    test_s: float = 30.0
    output_bytes: int = 64_000
    memory_bytes: int = 8 * 2**30
    file_bytes: int = 64 * 2**20

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"GradeLimits.{name} must be a positive number, got {value!r}")


@dataclass
class CaseResult:
    name: str
    points: float
    hidden: bool
    passed: bool
    message: str


@dataclass
class QuestionResult:
    question: str
    score: float
    possible: float
    cases: list[CaseResult] = field(default_factory=list)


@dataclass
class SubmissionResult:
    """The grading of one notebook: per-question results plus what went wrong while running it."""

    student: str
    assignment: str
    path: str
    status: str  # "graded", or why it could not be run to the end
    questions: list[QuestionResult]
    cell_errors: list[str] = field(default_factory=list)
    output_dropped: int = 0
    seconds: float = 0.0
    flags: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(q.score for q in self.questions)

    @property
    def possible(self) -> float:
        return sum(q.possible for q in self.questions)


def _possible(test_source: str) -> tuple[float, list[tuple[str, float, bool]]]:
    """Points of a test file, and (name, points, hidden) of each case, without running anything."""
    from otter.test_files.exception_test import ExceptionTestFile

    tf = ExceptionTestFile.from_string(test_source)
    cases = [(tc.body.test_func.__name__, float(tc.points or 0), bool(tc.hidden)) for tc in tf.test_cases]
    return float(sum(p for _, p, _ in cases)), cases


def _zero_result(student: str, assignment: str, path: str, tests: dict[str, str], status: str) -> SubmissionResult:
    questions = []
    for q, src in tests.items():
        possible, cases = _possible(src)
        questions.append(QuestionResult(q, 0.0, possible, [CaseResult(n, p, h, False, status) for n, p, h in cases]))
    return SubmissionResult(student, assignment, path, status, questions)


# --------------------------------------------------------------------------------------------
# The sandboxed child
# --------------------------------------------------------------------------------------------


class TimeLimit(BaseException):
    """Raised by the alarm in a cell or test case that ran too long (a BaseException, so a
    student's ``except Exception`` does not swallow it)."""


class _CappedWriter:
    """stdout/stderr replacement: keeps the first ``limit`` bytes, counts and drops the rest."""

    def __init__(self, stream: Any, limit: int) -> None:
        self.stream, self.limit, self.kept, self.dropped = stream, limit, 0, 0

    def write(self, text: str) -> int:
        data = str(text)
        room = max(0, self.limit - self.kept)
        if room:
            self.stream.write(data[:room])
        self.kept += min(room, len(data))
        self.dropped += max(0, len(data) - room)
        return len(data)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False


class _NoGrader:
    """Stands in for ``otter.Notebook`` while grading: the student's ``grader.check(...)`` cells
    would only re-run the public tests."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


def _inside(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r + os.sep) for r in roots)


def _install_guard(scratch: str, denied: Sequence[str], allowed: Sequence[str]) -> None:
    """The audit hook: no access to ``denied`` (unless inside ``allowed``), writes only in ``scratch``."""
    import threading

    scratch = os.path.realpath(scratch)
    denied = [os.path.realpath(d) for d in denied]
    allowed = [os.path.realpath(a) for a in allowed]
    busy = threading.local()
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    blocked_events = {
        "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
        "os.kill", "os.killpg", "signal.pthread_kill", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata",
        "socket.connect", "socket.bind", "socket.sendto", "pty.spawn", "os.startfile",
    }
    changing = {
        "os.remove": (0,), "os.rmdir": (0,), "os.rename": (0, 1), "os.replace": (0, 1), "os.truncate": (0,),
        "os.chmod": (0,), "os.chown": (0,), "os.link": (0, 1), "os.symlink": (0, 1), "os.mkdir": (0,),
        "os.utime": (0,), "shutil.rmtree": (0,), "shutil.move": (0, 1), "shutil.copyfile": (1,),
        "shutil.copytree": (1,), "os.setxattr": (0,), "os.removexattr": (0,),
    }
    listing = {"os.listdir", "os.scandir", "glob.glob", "os.chdir", "shutil.copyfile", "shutil.copytree", "os.walk"}

    def resolve(p: Any) -> str | None:
        if isinstance(p, int) or p is None:
            return None
        try:
            return os.path.realpath(os.fsdecode(p))
        except (TypeError, ValueError):
            return None

    def forbidden_read(path: str | None) -> bool:
        return path is not None and _inside(path, denied) and not _inside(path, allowed)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if getattr(busy, "on", False):
            return
        busy.on = True
        try:
            if event in blocked_events:
                raise PermissionError(f"{event} is not allowed while grading")
            if event == "open":
                path = resolve(args[0])
                mode, flags = args[1] or "", args[2] or 0
                if forbidden_read(path):
                    raise PermissionError(f"reading {args[0]!r} is not allowed while grading (outside your folder)")
                writing = any(c in str(mode) for c in "wax+") or bool(flags & write_flags)
                if writing and path is not None and not _inside(path, [scratch, "/dev/null"]):
                    raise PermissionError(f"writing {args[0]!r} is not allowed while grading (only in your folder)")
            elif event in changing:
                for i in changing[event]:
                    if i < len(args):
                        path = resolve(args[i])
                        if path is not None and not _inside(path, [scratch]):
                            raise PermissionError(f"{event} on {args[i]!r} is not allowed while grading (only in your folder)")
            if event in listing and args:
                path = resolve(args[0]) if args[0] is not None else os.getcwd()
                if forbidden_read(path):
                    raise PermissionError(f"{event} on {args[0]!r} is not allowed while grading (outside your folder)")
        finally:
            busy.on = False

    sys.addaudithook(hook)


class _Alarm:
    def __init__(self, seconds: float, what: str) -> None:
        self.seconds, self.what = seconds, what

    def _fire(self, signum: int, frame: Any) -> None:
        raise TimeLimit(f"{self.what} ran longer than {self.seconds:g} s")

    def __enter__(self) -> None:
        signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc: Any) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _short_error(exc: BaseException) -> str:
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    where = f" ({frames[-1].filename[1:-1]}, line {frames[-1].lineno})" if frames else ""
    text = str(exc).strip()
    if len(text) > 600:
        text = text[:600] + " ..."
    return f"{type(exc).__name__}: {text}{where}"


def _snapshot(modules: Sequence[Any]) -> list[tuple[Any, dict[str, Any]]]:
    return [(m, dict(vars(m))) for m in modules]


def _restore(snapshots: list[tuple[Any, dict[str, Any]]]) -> None:
    for module, saved in snapshots:
        space = vars(module)
        for key in [k for k in space if k not in saved]:
            del space[key]
        space.update(saved)


def _child(job: dict[str, Any]) -> dict[str, Any]:
    """Runs in the forked child: execute the cells, then the tests; return a JSON-able result."""
    import builtins
    import math
    import resource

    import torch
    import torch.nn.functional as F
    from IPython.core.inputtransformer2 import TransformerManager
    from otter.test_files.abstract_test import TestCaseResult
    from otter.test_files.exception_test import ExceptionTestFile

    import mobilenet_lib.classroom.checks as checks

    limits = GradeLimits(**job["limits"])
    scratch = job["scratch"]
    mem = int(limits.memory_bytes)
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits.file_bytes), int(limits.file_bytes)))
    cpu = int(limits.total_s) + 30
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing us
    os.chdir(scratch)
    for var in ("HOME", "TMPDIR", "MPLCONFIGDIR", "XDG_CACHE_HOME", "TORCHINDUCTOR_CACHE_DIR"):
        os.environ[var] = scratch
    tempfile.tempdir = scratch
    sys.dont_write_bytecode = True
    torch.set_num_threads(1)

    # Parse the tests before any student code runs.
    test_files = {q: ExceptionTestFile.from_string(src, path=q) for q, src in job["tests"].items()}
    transformer = TransformerManager()

    out = _CappedWriter(sys.stdout, limits.output_bytes)
    err = _CappedWriter(sys.stderr, limits.output_bytes)
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    import otter

    otter.Notebook = _NoGrader  # type: ignore[misc]
    namespace: dict[str, Any] = {"__name__": "__main__", "display": lambda *a, **k: None}
    snapshots = _snapshot([checks, torch, F, torch.nn, math, builtins])
    # One thread, and the student's set_num_threads(2) ignored: the parent may already run an
    # OpenMP pool, and a forked child that starts OpenMP threads again can hang (as DataLoader
    # workers do, stay single-threaded). Restored with the snapshot before the tests run.
    torch.set_num_threads = lambda n: None  # type: ignore[assignment]
    _install_guard(scratch, job["denied"], job["allowed"])

    cell_errors = []
    started = time.monotonic()
    for i, source in enumerate(job["cells"], start=1):
        try:
            code = compile(transformer.transform_cell(source), f"<cell {i}>", "exec")
            with _Alarm(limits.cell_s, f"code cell {i}"):
                exec(code, namespace)
        except BaseException as e:  # the cell failed: note it and go on, as a notebook run would
            cell_errors.append(f"code cell {i}: {_short_error(e)}")
    cell_time = time.monotonic() - started

    _restore(snapshots)
    questions = []
    for q, tf in test_files.items():
        results = []
        cases = []
        for tc in tf.test_cases:
            name = tc.body.test_func.__name__
            try:
                with _Alarm(limits.test_s, f"test {name}"):
                    tc.body.call_func(namespace)
                passed, message = True, ""
            except BaseException as e:
                passed, message = False, _short_error(e) if not isinstance(e, AssertionError) else str(e)
            results.append(TestCaseResult(test_case=tc, message=message, passed=passed))
            cases.append(asdict(CaseResult(name, float(tc.points or 0), bool(tc.hidden), passed, message)))
        tf.test_case_results = results
        questions.append({"question": q, "score": float(tf.score), "possible": float(tf.possible), "cases": cases})
    return {
        "questions": questions,
        "cell_errors": cell_errors,
        "output_dropped": out.dropped + err.dropped,
        "cell_seconds": cell_time,
    }


def _run_isolated(job: dict[str, Any], limits: GradeLimits, log_path: Path) -> tuple[dict[str, Any] | None, str]:
    """Fork, run ``_child`` there under the limits, return (result or None, status)."""
    read_fd, write_fd = os.pipe()
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the parent's code
        code = 0
        try:
            os.close(read_fd)
            os.setpgid(0, 0)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
            sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
            payload = json.dumps({"ok": _child(job)})
        except BaseException as e:  # noqa: BLE001 - report anything, then leave
            payload = json.dumps({"error": f"{type(e).__name__}: {e}"})
            code = 1
        try:
            data = ("\n" + payload + "\n").encode()
            while data:
                data = data[os.write(write_fd, data):]
        finally:
            os._exit(code)

    os.close(write_fd)
    os.close(log_fd)
    chunks, size, status = [], 0, "graded"
    deadline = time.monotonic() + limits.total_s
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                status = f"stopped: the notebook ran longer than the {limits.total_s:g} s limit"
                break
            ready, _, _ = select.select([read_fd], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(read_fd, 1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size > 8 * 2**20:
                    status = "stopped: the notebook wrote too much to the grader's result channel"
                    break
                chunks.append(chunk)
    finally:
        os.close(read_fd)
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _, wait_status = os.waitpid(pid, 0)
    if status != "graded":
        return None, status
    lines = b"".join(chunks).decode("utf-8", "replace").strip().splitlines()
    try:
        message = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        if os.WIFSIGNALED(wait_status):
            return None, f"stopped: the notebook's process was killed by signal {os.WTERMSIG(wait_status)} (memory or CPU limit?)"
        return None, "stopped: the notebook's process ended without a result"
    if "error" in message:
        return None, f"grader error: {message['error']}"
    return message["ok"], status


# --------------------------------------------------------------------------------------------
# Grading a folder
# --------------------------------------------------------------------------------------------


def _identify(path: Path, submissions: Path, assignment: str | None, known: Sequence[str]) -> tuple[str, str | None]:
    """(student, assignment) of a submission: ``<student>/<assignment>.ipynb`` or ``<student>.ipynb``."""
    rel = path.relative_to(submissions)
    student = "/".join(rel.parts[:-1]) if len(rel.parts) > 1 else path.stem
    if assignment is not None:
        return student, assignment
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("otter", {})
        name = meta.get("assignment_name")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, OSError):
        name = None
    if name in known:
        return student, name
    return student, path.stem if path.stem in known else None


def _read_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = []
    for c in nb["cells"]:
        if c.get("cell_type") == "code":
            src = c.get("source", "")
            cells.append("".join(src) if isinstance(src, list) else str(src))
    return cells


def grade_one(
    path: Path,
    student: str,
    assignment: str,
    tests: dict[str, str],
    limits: GradeLimits,
    denied: Sequence[str],
    allowed: Sequence[str],
    work: Path,
) -> SubmissionResult:
    """Grade one notebook in a scratch copy, in a forked process under ``limits``."""
    started = time.monotonic()
    try:
        cells = _read_cells(path)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, OSError) as e:
        return _zero_result(student, assignment, str(path), tests, f"not a readable notebook ({type(e).__name__})")
    scratch = Path(tempfile.mkdtemp(prefix="submission-"))
    try:
        shutil.copyfile(path, scratch / f"{assignment}.ipynb")
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", student)
        job = {
            "cells": cells, "tests": tests, "scratch": str(scratch), "limits": asdict(limits),
            "denied": list(denied), "allowed": list(allowed),
        }
        result, status = _run_isolated(job, limits, work / f"{assignment}-{safe}.log")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if result is None:
        out = _zero_result(student, assignment, str(path), tests, status)
    else:
        questions = [
            QuestionResult(q["question"], q["score"], q["possible"], [CaseResult(**c) for c in q["cases"]])
            for q in result["questions"]
        ]
        out = SubmissionResult(
            student, assignment, str(path), status, questions, result["cell_errors"], result["output_dropped"]
        )
    out.seconds = round(time.monotonic() - started, 2)
    out.flags = borrowed_answers(cells)
    return out


# The checks compare with mobilenet_lib's own implementations, which a notebook can import; an
# answer that just wraps one would pass. The grade stands, but the instructor sees a flag.
_BORROWED = re.compile(
    r"\bmobilenet_lib\b(?!\.checks\b)[\w.]*(?:\s+import\s+[\w, ()]+)?"
    r"|\b(?:F|functional)\.(?:hardswish|hardsigmoid)\b|\bnn\.(?:Hardswish|Hardsigmoid|ChannelShuffle)\b"
)
_ALLOWED_IMPORTS = {"mobilenet_lib.classroom.checks", "checks", "spiral"}


def borrowed_answers(cells: Sequence[str]) -> list[str]:
    """Uses of the library's (or torch's) ready-made answers in a notebook's code, for the instructor:
    any use of ``mobilenet_lib`` other than its checks and ``spiral`` (which the manifold assignment
    hands out), and torch's hard activations and channel shuffle."""
    found = []
    for i, source in enumerate(cells, start=1):
        for line in source.splitlines():
            code = line.split("#", 1)[0]
            for m in _BORROWED.finditer(code):
                names = set(re.split(r"[\s,()]+", m.group(0).replace("import", " ")) if "import" in m.group(0) else {m.group(0)})
                names = {n for n in names if n and n not in {"mobilenet_lib", "from"}}
                if names <= _ALLOWED_IMPORTS and names:
                    continue
                found.append(f"code cell {i}: {line.strip()[:120]}")
                break
    return found


def _feedback(r: SubmissionResult) -> str:
    lines = [f"# {r.assignment}: feedback for {r.student}", "", f"Score: {r.score:g} / {r.possible:g}", ""]
    if r.status != "graded":
        lines += [f"**Grading stopped early:** {r.status}", ""]
    for q in r.questions:
        lines.append(f"## {q.question}: {q.score:g} / {q.possible:g}")
        for c in q.cases:
            kind = "public check" if not c.hidden else f"{c.points:g} pt"
            mark = "passed" if c.passed else "FAILED"
            lines.append(f"- {c.name} ({kind}): {mark}" + ("" if c.passed else f"\n  {c.message}".replace("\n", "\n  ")))
        lines.append("")
    if r.cell_errors:
        lines += ["## Errors while running your notebook", *[f"- {e}" for e in r.cell_errors], ""]
    if r.flags:
        lines += ["## Ready-made answers used (for the instructor to review)", *[f"- {f}" for f in r.flags], ""]
    if r.output_dropped:
        lines += [f"Your notebook printed {r.output_dropped:,} characters more than the grader keeps; they were dropped.", ""]
    return "\n".join(lines)


def _write_reports(results: list[SubmissionResult], tests_by_assignment: dict[str, dict[str, str]], out: Path) -> dict[str, Path]:
    tables = {}
    for assignment, tests in tests_by_assignment.items():
        rows = [r for r in results if r.assignment == assignment]
        if not rows:
            continue
        folder = out / assignment
        (folder / "feedback").mkdir(parents=True, exist_ok=True)
        questions = list(tests)
        table = folder / "scores.csv"
        with table.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["student", *questions, "total", "possible", "status", "flags", "seconds"])
            for r in sorted(rows, key=lambda r: r.student):
                by_q = {q.question: q.score for q in r.questions}
                writer.writerow([r.student, *[f"{by_q.get(q, 0):g}" for q in questions], f"{r.score:g}", f"{r.possible:g}", r.status, "; ".join(r.flags), r.seconds])
        for r in rows:
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", r.student)
            (folder / "feedback" / f"{name}.md").write_text(_feedback(r), encoding="utf-8")
            (folder / "feedback" / f"{name}.json").write_text(json.dumps(asdict(r), indent=1), encoding="utf-8")
        tables[assignment] = table
    return tables


def grade(
    submissions: Path,
    out: Path,
    *,
    assignment: str | None = None,
    dist: Path = DIST,
    limits: GradeLimits | None = None,
    progress: bool = True,
) -> list[SubmissionResult]:
    """Grade every ``*.ipynb`` under ``submissions``; write score tables and feedback under ``out``.

    Raises:
        ValueError: if ``submissions`` is not a folder, or ``assignment`` is unknown.
    """
    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    if not submissions.is_dir():
        raise ValueError(f"submissions must be a folder of notebooks, got {submissions}")
    if _inside(str(out), [str(submissions)]):
        raise ValueError(f"the output folder {out} must not be inside the submissions folder {submissions}")
    known = assignment_names()
    if assignment is not None and assignment not in known:
        raise ValueError(f"unknown assignment {assignment!r}; the assignments are {known}")
    limits = limits or GradeLimits()

    # Imported once here, so that each forked child starts with them loaded.
    import IPython.core.inputtransformer2  # noqa: F401
    import otter.test_files  # noqa: F401
    import torch  # noqa: F401

    import mobilenet_lib.classroom.checks  # noqa: F401

    paths = sorted(p for p in submissions.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="grading-logs-"))
    lib = Path(__import__("mobilenet_lib").__file__).resolve().parent
    denied = [str(ROOT), str(submissions), str(out), str(work), str(Path(dist).resolve())]
    allowed = [str(lib), str(Path(sys.prefix).resolve()), str(Path(sys.base_prefix).resolve())]
    tests_by_assignment: dict[str, dict[str, str]] = {}
    results = []
    try:
        for path in paths:
            student, name = _identify(path, submissions, assignment, known)
            if name is None:
                print(f"skipped {path}: cannot tell which assignment it is (name it <assignment>.ipynb)", file=sys.stderr)
                continue
            if name not in tests_by_assignment:
                tests_by_assignment[name] = load_tests(name, dist)
            before = hashlib.sha256(path.read_bytes()).hexdigest()
            r = grade_one(path, student, name, tests_by_assignment[name], limits, denied, allowed, work)
            if hashlib.sha256(path.read_bytes()).hexdigest() != before:  # never expected; say so loudly
                r.status += " (WARNING: the submission file changed during grading)"
            results.append(r)
            if progress:
                print(f"{name:22s} {student:28s} {r.score:5g}/{r.possible:g}  {r.seconds:6.1f} s  {r.status}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _write_reports(results, tests_by_assignment, out)
    return results


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mobilenet_lib.classroom.grading", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the student and autograder versions (otter assign)")
    b.add_argument("names", nargs="*", help="assignments to build (default: all)")
    b.add_argument("-o", "--out", type=Path, default=DIST, help=f"output folder (default: {DIST.relative_to(ROOT)})")
    g = sub.add_parser("grade", help="grade a folder of submitted notebooks")
    g.add_argument("submissions", type=Path)
    g.add_argument("-o", "--out", type=Path, default=Path("grades"), help="output folder (default: ./grades)")
    g.add_argument("-a", "--assignment", help="grade every notebook as this assignment")
    g.add_argument("--dist", type=Path, default=DIST, help="where scripts/assign-build wrote the assignments")
    g.add_argument("--timeout", type=float, default=GradeLimits.total_s, help="seconds per notebook in all")
    g.add_argument("--cell-timeout", type=float, default=GradeLimits.cell_s, help="seconds per code cell")
    g.add_argument("--test-timeout", type=float, default=GradeLimits.test_s, help="seconds per test case")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            for name, path in build(args.names or None, args.out).items():
                print(f"{name}: student version {path}")
            return 0
        limits = GradeLimits(total_s=args.timeout, cell_s=args.cell_timeout, test_s=args.test_timeout)
        results = grade(args.submissions, args.out, assignment=args.assignment, dist=args.dist, limits=limits)
        print(f"graded {len(results)} notebook(s); score tables: {args.out}/<assignment>/scores.csv")
        return 0
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

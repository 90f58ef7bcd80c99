"""Classroom assignments: build student versions with otter-grader, grade submissions in a sandbox.

Two commands (see README.md, "Classroom assignments", and book/assignments/instructor.md):

* ``scripts/assign-build`` runs ``otter assign`` on every master notebook
  ``assignments/<name>/<name>.ipynb`` and writes ``assignments/dist/<name>/student/`` (solutions
  and hidden tests removed) and ``assignments/dist/<name>/autograder/`` (the reference solution,
  every test). It refuses to finish if any solution line survives in a student notebook.
* ``scripts/assign-grade SUBMISSIONS [-o OUT] [--workers N]`` grades every ``*.ipynb`` under
  SUBMISSIONS and writes, per assignment, ``OUT/<assignment>/scores.csv`` (one row per student,
  one column per question) and ``OUT/<assignment>/feedback/<student>.md``; notebooks whose
  assignment cannot be told get a row in ``OUT/unidentified.csv``.

How a submission is graded (each step in its own module):

1. every submission is copied into memory first (regular files only, size-capped, opened with
   ``O_NOFOLLOW | O_NONBLOCK``), and everything under SUBMISSIONS, the tests and OUT is hashed;
2. its code cells run in a bubblewrap sandbox (:mod:`.sandbox`: namespaces, an unprivileged uid,
   read-only Python and library, a private size-limited scratch, resource limits, killed whole at
   the time limit) by :mod:`.harness`, which answers calls on the student's functions and classes;
3. the hidden tests run *here*, in the grader (:mod:`.judge`), on inputs drawn from a secret salt
   of this run; the sandbox only ever returns outputs as data, so the verdict is the grader's;
4. the score table and feedback are written atomically after each submission, and at the end the
   grader checks that no submission, test or earlier grade changed.

If bwrap is missing or cannot make namespaces here, grading stops with an error: it never runs a
notebook unisolated.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mobilenet_lib.classroom import sandbox
from mobilenet_lib.classroom.judge import CaseResult, QuestionResult, Remote, judge, needed_names, possible_points
from mobilenet_lib.classroom.sandbox import GradeLimits, SandboxStopped, SandboxUnavailable

# The repository checkout that holds the masters (assignments/<name>/<name>.ipynb).
ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = ROOT / "assignments"
DIST = ASSIGNMENTS / "dist"
MAX_NOTEBOOK_BYTES = 16 * 2**20

__all__ = [
    "CaseResult",
    "GradeLimits",
    "QuestionResult",
    "SandboxUnavailable",
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
class SubmissionResult:
    """The grading of one notebook: per-question results plus what went wrong while running it."""

    student: str
    assignment: str
    path: str
    status: str  # "graded", or why it could not be graded to the end ("not gradable: ...", "stopped: ...")
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


def _zero_result(student: str, assignment: str, path: str, tests: dict[str, str], status: str) -> SubmissionResult:
    questions = [
        QuestionResult(q, 0.0, possible, [CaseResult(n, p, h, False, status) for n, p, h in cases])
        for q, (possible, cases) in possible_points(tests).items()
    ]
    return SubmissionResult(student, assignment, path, status, questions)


# --------------------------------------------------------------------------------------------
# Reading submissions: a private copy, before any student code runs
# --------------------------------------------------------------------------------------------


class NotGradable(ValueError):
    """A submission that cannot be graded; the message becomes its row's status."""


@dataclass
class Submission:
    student: str
    assignment: str | None  # None: cannot tell which assignment it is
    path: str
    data: bytes | None = None
    problem: str | None = None  # why it is not gradable


def _read_private(path: Path) -> bytes:
    """The bytes of a regular file, without following links or blocking on FIFOs, size-capped."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotGradable("the file vanished before it could be read") from None
    except OSError as e:
        raise NotGradable(f"cannot open it ({'a symbolic link' if e.errno == 40 else e.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotGradable("not a regular file (a folder, FIFO or device named .ipynb)")
        if st.st_size > MAX_NOTEBOOK_BYTES:
            raise NotGradable(f"larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB")
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_NOTEBOOK_BYTES:
                raise NotGradable(f"larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _parse(data: bytes) -> dict[str, Any]:
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise NotGradable(f"not a valid notebook (not JSON: {type(e).__name__})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotGradable("not a valid notebook (no list of cells)")
    return nb


def _cells(nb: dict[str, Any]) -> list[str]:
    """The code cells' sources; any malformed cell makes the notebook not gradable."""
    cells = []
    for i, c in enumerate(nb["cells"], start=1):
        if not isinstance(c, dict) or not isinstance(c.get("cell_type"), str):
            raise NotGradable(f"not a valid notebook (cell {i} is not a cell)")
        if c["cell_type"] != "code":
            continue
        src = c.get("source", "")
        if isinstance(src, list) and all(isinstance(s, str) for s in src):
            src = "".join(src)
        if not isinstance(src, str):
            raise NotGradable(f"not a valid notebook (cell {i} has no source text)")
        cells.append(src)
    return cells


def _find(submissions: Path) -> list[Path]:
    """Every name ending in .ipynb (files or not: a folder or FIFO so named gets a row too)."""
    found = []
    for folder, dirs, files in os.walk(submissions, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")
        found += [Path(folder) / n for n in sorted(files + dirs) if n.endswith(".ipynb")]
    return sorted(found)


def _identify(path: Path, submissions: Path, assignment: str | None, known: Sequence[str], data: bytes | None) -> tuple[str, str | None]:
    """(student, assignment): ``<student>/<assignment>.ipynb`` is graded as the name it was handed
    in under; ``<student>.ipynb`` needs ``-a`` or the assignment name in its otter metadata."""
    rel = path.relative_to(submissions)
    nested = len(rel.parts) > 1
    student = "/".join(rel.parts[:-1]) if nested else path.stem
    if assignment is not None:
        return student, assignment
    stem = path.name[: -len(".ipynb")]
    if nested:
        return student, stem if stem in known else None
    try:
        name = json.loads(data or b"").get("metadata", {}).get("otter", {}).get("assignment_name")
    except (ValueError, AttributeError, RecursionError):
        name = None
    return student, name if name in known else None


# --------------------------------------------------------------------------------------------
# Grading one submission
# --------------------------------------------------------------------------------------------


def _strings(value: Any, limit: int = 50) -> list[str]:
    return [str(v)[:1000] for v in value[:limit]] if isinstance(value, list) else []


def grade_one(sub: Submission, tests: dict[str, str], limits: GradeLimits, slot: int, work: Path) -> SubmissionResult:
    """Grade one private copy in a sandbox for worker ``slot``; never raises for the submission's faults."""
    assert sub.assignment is not None
    started = time.monotonic()
    try:
        if sub.problem:
            raise NotGradable(sub.problem)
        cells = _cells(_parse(sub.data or b""))
    except NotGradable as e:
        r = _zero_result(sub.student, sub.assignment, sub.path, tests, f"not gradable: {e}")
        r.seconds = round(time.monotonic() - started, 2)
        return r
    log = work / f"{slot}-{hashlib.sha256(sub.path.encode()).hexdigest()[:16]}.log"
    box = sandbox.Sandbox([sys.executable, "-I", "-m", "mobilenet_lib.classroom.harness"], slot, limits, log)
    try:
        box.send({"cells": cells, "names": needed_names(tests), "cell_s": limits.cell_s, "call_s": limits.test_s,
                  "output_bytes": limits.output_bytes})
        ready = box.receive(limits.total_s)
        objects = ready.get("objects") if isinstance(ready.get("objects"), dict) else {}
        remote = Remote(box, limits.test_s)
        questions = judge(tests, remote, objects)
        flags = _strings(ready.get("flags"))
        dropped = 0
        if box.stopped is None:
            try:
                finish = remote.ask("finish")
                flags += _strings(finish.get("flags"))
                dropped = finish.get("output_dropped") if isinstance(finish.get("output_dropped"), int) else 0
            except Exception:  # noqa: BLE001 - the flags are advisory; the grades are already decided
                pass
        status = box.stopped or "graded"
        r = SubmissionResult(sub.student, sub.assignment, sub.path, status, questions,
                             _strings(ready.get("cell_errors")), max(0, dropped), flags=flags)
    except SandboxStopped as e:
        r = _zero_result(sub.student, sub.assignment, sub.path, tests, str(e))
    finally:
        box.stop()
    r.seconds = round(time.monotonic() - started, 2)
    return r


# --------------------------------------------------------------------------------------------
# Reports: written atomically, after each submission
# --------------------------------------------------------------------------------------------


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


def _atomic_write(path: Path, text: str) -> None:
    """Write a new file beside ``path`` and rename it over: a reader sees the old or the new file,
    never half of one, and a FIFO or link planted at ``path`` is replaced, not opened."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _safe_name(student: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", student).lstrip(".") or "_"
    return name if name == student else f"{name}-{hashlib.sha256(student.encode()).hexdigest()[:6]}"


class _Reports:
    """The tables and feedback of one run; rewritten (atomically) after every submission."""

    def __init__(self, out: Path, tests: dict[str, dict[str, str]]) -> None:
        self.out, self.tests, self.lock = out, tests, threading.Lock()
        self.rows: dict[str, list[SubmissionResult]] = {}
        self.unidentified: list[tuple[str, str]] = []
        self.written: set[Path] = set()

    def _write(self, path: Path, text: str) -> None:
        _atomic_write(path, text)
        self.written.add(path)

    def add(self, r: SubmissionResult) -> None:
        with self.lock:
            rows = self.rows.setdefault(r.assignment, [])
            rows.append(r)
            folder = self.out / r.assignment
            questions = list(self.tests[r.assignment])
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow(["student", *questions, "total", "possible", "status", "flags", "seconds"])
            for row in sorted(rows, key=lambda x: x.student):
                by_q = {q.question: q.score for q in row.questions}
                writer.writerow([row.student, *[f"{by_q.get(q, 0):g}" for q in questions], f"{row.score:g}",
                                 f"{row.possible:g}", row.status, "; ".join(row.flags), row.seconds])
            name = _safe_name(r.student)
            self._write(folder / "feedback" / f"{name}.md", _feedback(r))
            self._write(folder / "feedback" / f"{name}.json", json.dumps(asdict(r), indent=1))
            self._write(folder / "scores.csv", buf.getvalue())

    def add_unidentified(self, path: str, why: str) -> None:
        with self.lock:
            self.unidentified.append((path, why))
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow(["path", "status"])
            writer.writerows(sorted(self.unidentified))
            self._write(self.out / "unidentified.csv", buf.getvalue())


# --------------------------------------------------------------------------------------------
# Grading a folder
# --------------------------------------------------------------------------------------------


def _hashes(root: Path) -> dict[str, str]:
    """sha256 of every regular file under ``root`` (links and FIFOs by their kind, never opened)."""
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for folder, dirs, files in os.walk(root, followlinks=False):
        for n in files + dirs:
            p = Path(folder) / n
            try:
                st = os.lstat(p)
                if stat.S_ISREG(st.st_mode):
                    out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
                elif not stat.S_ISDIR(st.st_mode):
                    out[str(p)] = f"mode {st.st_mode:o}"
            except OSError:
                out[str(p)] = "unreadable"
    return out


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def grade(
    submissions: Path,
    out: Path,
    *,
    assignment: str | None = None,
    dist: Path = DIST,
    limits: GradeLimits | None = None,
    workers: int = 1,
    progress: bool = True,
) -> list[SubmissionResult]:
    """Grade every ``*.ipynb`` under ``submissions``, each in a sandbox; write tables and feedback under ``out``.

    Raises:
        ValueError: if ``submissions`` is not a folder, ``out`` is inside it (or it in ``out``),
            ``assignment`` is unknown or ``workers`` is not a positive integer.
        SandboxUnavailable: if bwrap is missing or does not work here (nothing is graded).
        RuntimeError: if a submission, a test or an earlier grade changed during grading.
    """
    submissions, out, dist = Path(submissions).resolve(), Path(out).resolve(), Path(dist).resolve()
    if not submissions.is_dir():
        raise ValueError(f"submissions must be a folder of notebooks, got {submissions}")
    if _inside(out, submissions) or _inside(submissions, out):
        raise ValueError(f"the output folder {out} must not be inside the submissions folder {submissions} (or hold it)")
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= sandbox.SLOTS:
        raise ValueError(f"workers must be an integer from 1 to {sandbox.SLOTS}, got {workers!r}")
    known = assignment_names()
    if assignment is not None and assignment not in known:
        raise ValueError(f"unknown assignment {assignment!r}; the assignments are {known}")
    limits = limits or GradeLimits()
    sandbox.check_available()

    # 1. Everything the students handed in, copied before any of their code runs; hashes of all
    #    that must not change.
    watched = [submissions, dist, out]
    before = {k: v for root in watched for k, v in _hashes(root).items()}
    subs = []
    for path in _find(submissions):
        data, problem = None, None
        try:
            data = _read_private(path)
        except NotGradable as e:
            problem = str(e)
        student, name = _identify(path, submissions, assignment, known, data)
        subs.append(Submission(student, name, str(path), data, problem))

    out.mkdir(parents=True, exist_ok=True)
    tests = {n: load_tests(n, dist) for n in sorted({s.assignment for s in subs if s.assignment})}
    reports = _Reports(out, tests)
    for s in subs:
        if s.assignment is None:
            why = "not gradable: cannot tell which assignment it is (hand it in as <student>/<assignment>.ipynb)"
            reports.add_unidentified(s.path, why)
            if progress:
                print(f"{'?':22s} {s.path}: {why}", file=sys.stderr, flush=True)

    # 2./3. Sandboxed runs, judged here, on inputs from this run's secret salt.
    from mobilenet_lib.classroom import checks

    slots = list(range(workers))
    slot_lock = threading.Lock()
    work = Path(tempfile.mkdtemp(prefix="grading-logs-"))
    results: list[SubmissionResult] = []

    def run(sub: Submission) -> None:
        with slot_lock:
            slot = slots.pop()
        try:
            try:
                r = grade_one(sub, tests[sub.assignment], limits, slot, work)  # type: ignore[index]
            except Exception as e:  # noqa: BLE001 - a grader bug must not cost the other students
                r = _zero_result(sub.student, sub.assignment or "?", sub.path, tests[sub.assignment or ""],  # type: ignore[index]
                                 f"not gradable: grader error ({type(e).__name__}: {e})")
        finally:
            with slot_lock:
                slots.append(slot)
        results.append(r)
        reports.add(r)
        if progress:
            print(f"{r.assignment:22s} {r.student:28s} {r.score:5g}/{r.possible:g}  {r.seconds:6.1f} s  {r.status}", flush=True)

    try:
        with checks.fresh_inputs(secrets.randbits(62)), ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, [s for s in subs if s.assignment is not None]))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # 4. Nothing outside this run's own reports may have changed.
    after = {k: v for root in watched for k, v in _hashes(root).items()}
    ours = {str(p) for p in reports.written}
    changed = sorted(k for k in before.keys() | after.keys() if k not in ours and before.get(k) != after.get(k))
    if changed:
        raise RuntimeError(f"files changed during grading (do not trust this run): {changed[:10]}")
    return sorted(results, key=lambda r: (r.assignment, r.student))


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mobilenet_lib.classroom.grading", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the student and autograder versions (otter assign)")
    b.add_argument("names", nargs="*", help="assignments to build (default: all)")
    b.add_argument("-o", "--out", type=Path, default=DIST, help=f"output folder (default: {DIST.relative_to(ROOT)})")
    g = sub.add_parser("grade", help="grade a folder of submitted notebooks, each in a bubblewrap sandbox")
    g.add_argument("submissions", type=Path)
    g.add_argument("-o", "--out", type=Path, default=Path("grades"), help="output folder (default: ./grades)")
    g.add_argument("-a", "--assignment", help="grade every notebook as this assignment")
    g.add_argument("--dist", type=Path, default=DIST, help="where scripts/assign-build wrote the assignments")
    g.add_argument("--workers", type=int, default=1, help="submissions graded in parallel (default: 1)")
    g.add_argument("--timeout", type=float, default=GradeLimits.total_s, help="seconds per notebook in all")
    g.add_argument("--cell-timeout", type=float, default=GradeLimits.cell_s, help="seconds per code cell")
    g.add_argument("--test-timeout", type=float, default=GradeLimits.test_s, help="seconds per call of the student's code")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            for name, path in build(args.names or None, args.out).items():
                print(f"{name}: student version {path}")
            return 0
        limits = GradeLimits(total_s=args.timeout, cell_s=args.cell_timeout, test_s=args.test_timeout)
        results = grade(args.submissions, args.out, assignment=args.assignment, dist=args.dist, limits=limits, workers=args.workers)
        print(f"graded {len(results)} notebook(s); score tables: {args.out}/<assignment>/scores.csv")
        return 0
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (SandboxUnavailable, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())

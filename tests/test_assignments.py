"""The classroom assignments end to end: build the student versions, then grade one folder of
submissions in a single run, and check the score table and the feedback.

The submissions are made from the built reference solutions (the autograder notebooks): the
reference itself (full marks), the starter (the student version, unanswered: zero), plausible
mistakes (one edit each of the reference: each loses exactly the points of the parts it breaks,
with a message that names the mistake) and hostile notebooks (an endless loop, an exception, a
loop that swallows the time-limit alarm, deleting files, reading the hidden tests and the
solutions, megabytes of output). Short time limits and two workers keep the run to about a
minute. The attacks of issue 16 are in tests/test_grading_attacks.py. Needs bubblewrap (bwrap):
without it grading refuses to run, and these tests fail saying how to install it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent




from mobilenet_lib.classroom import grading as classroom  # noqa: E402

NAMES = ["channel_shuffle", "depthwise_separable", "inverted_residual", "manifold_collapse", "se_hswish"]

# (student, assignment, edits of the reference as (old, new) pairs, expected score per question,
#  {question: text the feedback must contain}). Each edit must occur exactly once.
MISTAKES: list[tuple[str, str, list[tuple[str, str]], dict[str, float], dict[str, str]]] = [
    ("ds_macs_times_df", "depthwise_separable", [("params * df * df", "params * df")],
     {"q1": 1, "q2": 1, "q3": 4}, {"q1": "multiply by D_F squared"}),
    ("ds_ratio_inverted", "depthwise_separable", [("return 1 / n + 1 / dk**2", "return 1 / (1 / n + 1 / dk**2)")],
     {"q1": 2, "q2": 0, "q3": 4}, {"q2": "standard over separable"}),
    ("ds_full_conv", "depthwise_separable", [("padding=1, groups=in_ch, bias=False", "padding=1, bias=False")],
     {"q1": 2, "q2": 1, "q3": 1}, {"q3": "is the 3x3 conv depthwise"}),
    ("ds_no_pointwise_relu", "depthwise_separable",
     [("return F.relu(self.bn2(self.pointwise(x)))", "return self.bn2(self.pointwise(x))")],
     {"q1": 2, "q2": 1, "q3": 3}, {"q3": "the pointwise unit has no ReLU"}),
    ("ir_no_shortcut", "inverted_residual", [("return x + out if self.use_shortcut else out", "return out")],
     {"q1": 3, "q2": 3}, {"q1": "the shortcut x + F(x) is missing"}),
    ("ir_relu6_after_projection", "inverted_residual",
     [("nn.BatchNorm2d(out_ch),", "nn.BatchNorm2d(out_ch), nn.ReLU6(),")],
     {"q1": 3, "q2": 3}, {"q1": "a ReLU6 is left after the projection"}),
    ("ir_shortcut_at_stride_2", "inverted_residual",
     [("self.use_shortcut = stride == 1 and in_ch == out_ch", "self.use_shortcut = in_ch == out_ch")],
     {"q1": 0, "q2": 3}, {"q1": "the shortcut is added only when stride == 1"}),
    ("ir_macs_input_size", "inverted_residual", [("out = (size - 1) // stride + 1", "out = size")],
     {"q1": 5, "q2": 1}, {"q2": "run at the output size"}),
    ("mc_transpose", "manifold_collapse",
     [("return act(x @ T.T) @ torch.linalg.pinv(T).T", "return act(x @ T.T) @ T")],
     {"q1": 0, "q2": 3, "q3": 0}, {"q1": "use torch.linalg.pinv(T)"}),
    ("mc_no_rescaling", "manifold_collapse",
     [("s = (x_hat * x).sum() / energy if energy > 0 else 0.0", "s = 1.0")],
     {"q1": 2, "q2": 1, "q3": 1}, {"q2": "without the best rescaling"}),
    ("mc_act_in_plane", "manifold_collapse",
     [("return act(x @ T.T) @ torch.linalg.pinv(T).T", "return act(x @ T.T @ torch.linalg.pinv(T).T)")],
     {"q1": 1, "q2": 3, "q3": 1}, {"q1": "the activation must act in the n-dimensional space"}),
    ("se_sigmoid_gate", "se_hswish",
     [("gate = h_sigmoid(self.fc2(F.relu(self.fc1(s))))", "gate = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))")],
     {"q1": 1, "q2": 2, "q3": 2}, {"q3": "the gate is a sigmoid"}),
    ("se_relu_in_hswish", "se_hswish", [("return x * F.relu6(x + 3) / 6", "return x * F.relu(x + 3) / 6")],
     {"q1": 1, "q2": 1, "q3": 4}, {"q2": "use ReLU6, not ReLU"}),
    ("se_hswish_in_place", "se_hswish", [("return x * F.relu6(x + 3) / 6", "return x.mul_(F.relu6(x + 3)) / 6")],
     {"q1": 1, "q2": 1, "q3": 4}, {"q2": "changed its input tensor"}),
    ("se_max_pool", "se_hswish",
     [("s = x.mean(dim=(2, 3), keepdim=True)", "s = x.amax(dim=(2, 3), keepdim=True)")],
     {"q1": 1, "q2": 2, "q3": 2}, {"q3": "global *average*"}),
    ("cs_no_transpose", "channel_shuffle",
     [("c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)", "c // groups, h, w).reshape(n, c, h, w)")],
     {"q1": 1, "q2": 2}, {"q1": "the channels are unchanged"}),
    ("cs_group_axis_second", "channel_shuffle",
     [("x.reshape(n, groups, c // groups, h, w)", "x.reshape(n, c // groups, groups, h, w)")],
     {"q1": 1, "q2": 2}, {"q1": "the group axis comes first"}),
    ("cs_relu_after_depthwise", "channel_shuffle",
     [("groups=half, bias=False), nn.BatchNorm2d(half),", "groups=half, bias=False), nn.BatchNorm2d(half), nn.ReLU(),")],
     {"q1": 3, "q2": 2}, {"q2": "no ReLU after the depthwise conv"}),
]

LIMITS = dict(total_s=30.0, cell_s=5.0, test_s=5.0, output_bytes=20_000)


def _nb(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _edited(nb: dict[str, Any], edits: list[tuple[str, str]]) -> dict[str, Any]:
    nb = json.loads(json.dumps(nb))
    for old, new in edits:
        hits = 0
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            hits += src.count(old)
            cell["source"] = src.replace(old, new)
        assert hits == 1, f"edit {old!r} matched {hits} times; the reference changed?"
    return nb


def _with_cell(nb: dict[str, Any], source: str, *, after: str | None = None) -> dict[str, Any]:
    """A copy with one more code cell, after the first code cell containing ``after`` (else at the end)."""
    nb = json.loads(json.dumps(nb))
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
    where = len(nb["cells"])
    if after is not None:
        where = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and after in "".join(c["source"])) + 1
    nb["cells"].insert(where, cell)
    return nb


def _write(folder: Path, student: str, name: str, nb: dict[str, Any]) -> None:
    (folder / student).mkdir(parents=True, exist_ok=True)
    (folder / student / f"{name}.ipynb").write_text(json.dumps(nb), encoding="utf-8")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    students = classroom.build(None, dist)
    assert sorted(students) == NAMES
    return dist


@pytest.fixture(scope="module")
def graded(built: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One grading run over every submission; returns the folders, the results and the file hashes."""
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap (bwrap) is not installed, and grading refuses to run without it: "
                    "apt-get install -y bubblewrap (scripts/test installs it)")
    subs = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("grades")
    ref = {n: _nb(built / n / "autograder" / f"{n}.ipynb") for n in NAMES}
    for n in NAMES:
        _write(subs, "reference", n, ref[n])
        _write(subs, "starter", n, _nb(built / n / "student" / f"{n}.ipynb"))
    for student, name, edits, _, _ in MISTAKES:
        _write(subs, student, name, _edited(ref[name], edits))

    # Hostile notebooks, each a reference plus mischief.
    secret_test = built / "channel_shuffle" / "autograder" / "channel_shuffle.ipynb"
    master = ROOT / "assignments" / "channel_shuffle" / "channel_shuffle.ipynb"
    _write(subs, "hostile_loop", "depthwise_separable", _with_cell(
        _edited(ref["depthwise_separable"], [("return 1 / n + 1 / dk**2", "while True:\n        pass")]),
        "while True:\n    pass\n", after="import torch"))
    _write(subs, "hostile_exception", "depthwise_separable", _edited(
        ref["depthwise_separable"],
        [("x = F.relu(self.bn1(self.depthwise(x)))", "raise RuntimeError('boom')")]))
    _write(subs, "hostile_swallow_alarm", "inverted_residual", _with_cell(
        ref["inverted_residual"],
        "import time\nwhile True:\n    try:\n        time.sleep(60)\n    except BaseException:\n        pass\n",
        after="import torch"))
    # a decoy inside the repository (never real sources: if the guard failed, this would delete it)
    decoy = ROOT / "assignments" / "dist" / f"decoy-{os.getpid()}"
    decoy.mkdir(parents=True, exist_ok=True)
    (decoy / "keep.txt").write_text("the grader must not let a submission delete this\n")
    victims = [subs / "reference", decoy, built, subs / "reference" / "se_hswish.ipynb"]
    attempts = [f"shutil.rmtree({str(v)!r}) if os.path.isdir({str(v)!r}) else os.remove({str(v)!r})" for v in victims]
    attempts += [
        "subprocess.run(['rm', '-rf', " + repr(str(subs)) + ", " + repr(str(built)) + "])",  # via a shell
        "os.system('rm -rf /work /tmp/* 2>/dev/null')",
    ]
    # In the sandbox none of these paths exist (or they are read-only): nothing may be gone afterwards.
    _write(subs, "hostile_delete", "se_hswish", _with_cell(ref["se_hswish"], "\n".join([
        "import os, shutil, signal, subprocess",
        *[f"try:\n    {a}\nexcept OSError:\n    pass" for a in attempts],
    ]), after="import torch"))
    _write(subs, "hostile_read", "channel_shuffle", _with_cell(
        ref["channel_shuffle"], "\n".join([
            f"solution = open({str(secret_test)!r}).read()",
        ]), after="import torch"))
    _write(subs, "hostile_read_master", "channel_shuffle", _with_cell(
        _nb(built / "channel_shuffle" / "student" / "channel_shuffle.ipynb"),
        "import json\n"
        f"cells = json.load(open({str(master)!r}))['cells']\n"
        "exec(''.join(cells[4]['source']))\n"))
    _write(subs, "borrowed", "channel_shuffle", _with_cell(
        _nb(built / "channel_shuffle" / "student" / "channel_shuffle.ipynb"),
        "from mobilenet_lib.blocks import channel_shuffle\n", after="def channel_shuffle"))
    _write(subs, "hostile_print", "manifold_collapse", _with_cell(
        ref["manifold_collapse"], "for _ in range(200):\n    print('x' * 50_000)\n", after="import torch"))

    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in subs.rglob("*.ipynb")}
    limits = classroom.GradeLimits(**LIMITS)
    results = classroom.grade(subs, out, dist=built, limits=limits, workers=2, progress=False)
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in subs.rglob("*.ipynb")}
    survived = (decoy / "keep.txt").is_file()
    shutil.rmtree(decoy, ignore_errors=True)
    return {"subs": subs, "out": out, "results": results, "before": before, "after": after, "decoy_survived": survived}


def _table(graded: dict[str, Any], name: str) -> dict[str, dict[str, str]]:
    with (graded["out"] / name / "scores.csv").open(encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def _feedback(graded: dict[str, Any], name: str, student: str) -> str:
    return (graded["out"] / name / "feedback" / f"{student}.md").read_text(encoding="utf-8")


def _questions(built: Path, name: str) -> list[str]:
    return list(classroom.load_tests(name, built))


@pytest.mark.parametrize("name", NAMES)
def test_student_version_has_no_solution_or_hidden_test(built: Path, name: str) -> None:
    master = ROOT / "assignments" / name / f"{name}.ipynb"
    text = (built / name / "student" / f"{name}.ipynb").read_text(encoding="utf-8")
    solution = classroom.solution_lines(master)
    assert len(solution) >= 2, "the master notebook should hold solutions"
    leaked = [line for line in solution if json.dumps(line)[1:-1] in text and line not in _outside_solutions(master)]
    assert not leaked, f"solution lines in the student version: {leaked}"
    assert "BEGIN SOLUTION" not in text and "seed=2024" not in text  # no markers, no hidden test
    assert "hidden: true" not in text
    # and the autograder version does hold them, so the grep above can fail
    graded_text = (built / name / "autograder" / f"{name}.ipynb").read_text(encoding="utf-8")
    assert "seed=2024" in graded_text and any(json.dumps(line)[1:-1] in graded_text for line in solution)


def _outside_solutions(master: Path) -> set[str]:
    inside, outside = False, set()
    for c in _nb(master)["cells"]:
        if c["cell_type"] != "code":
            continue
        for line in "".join(c["source"]).splitlines():
            s = line.strip()
            if s.startswith("# BEGIN SOLUTION"):
                inside = True
            elif s.startswith("# END SOLUTION"):
                inside = False
            elif not inside:
                outside.add(s)
    return outside


def test_leak_check_catches_a_leak(tmp_path: Path) -> None:
    master = ROOT / "assignments" / "channel_shuffle" / "channel_shuffle.ipynb"
    leaky = tmp_path / "leaky.ipynb"
    leaky.write_text(master.read_text(encoding="utf-8"), encoding="utf-8")
    assert classroom._leaked_lines(master, leaky), "the master itself must count as leaking its solutions"


def test_reference_gets_full_marks_and_starter_zero(graded: dict[str, Any], built: Path) -> None:
    for name in NAMES:
        table = _table(graded, name)
        assert float(table["reference"]["total"]) == float(table["reference"]["possible"]) > 0, table["reference"]
        assert table["reference"]["status"] == "graded"
        for q in _questions(built, name):
            assert float(table["starter"][q]) == 0, (name, q, table["starter"])
        assert "FAILED" in _feedback(graded, name, "starter")


@pytest.mark.parametrize("student,name,edits,expected,messages", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_mistake_loses_its_points_with_a_message(
    graded: dict[str, Any], built: Path, student: str, name: str, edits: Any, expected: dict[str, float], messages: dict[str, str]
) -> None:
    row = _table(graded, name)[student]
    assert {q: float(row[q]) for q in _questions(built, name)} == expected, row
    text = _feedback(graded, name, student)
    for q, message in messages.items():
        section = text.split(f"## {q}:")[1].split("\n## ")[0]
        assert message in section, f"{student}: expected {message!r} in the feedback for {q}:\n{section}"


def test_hostile_submissions_are_contained(graded: dict[str, Any], built: Path) -> None:
    ds, ir = _table(graded, "depthwise_separable"), _table(graded, "inverted_residual")
    # an endless cell costs only that cell; an endless function only its question
    loop = ds["hostile_loop"]
    assert (float(loop["q1"]), float(loop["q2"]), float(loop["q3"])) == (2, 0, 4), loop
    assert "ran longer than" in _feedback(graded, "depthwise_separable", "hostile_loop")
    # an exception in forward costs the parts that run it (the parameter count still scores)
    exc = ds["hostile_exception"]
    assert (float(exc["q1"]), float(exc["q2"]), float(exc["q3"])) == (2, 1, 1), exc
    assert "RuntimeError: boom" in _feedback(graded, "depthwise_separable", "hostile_exception")
    # a loop that swallows the alarm is stopped by the total limit: zero, with the reason
    swallow = ir["hostile_swallow_alarm"]
    assert float(swallow["total"]) == 0 and swallow["status"].startswith("stopped"), swallow
    assert float(swallow["seconds"]) < LIMITS["total_s"] + 10
    # deleting: every attempt refused, nothing gone, the answers still graded
    delete = _table(graded, "se_hswish")["hostile_delete"]
    assert float(delete["total"]) == float(delete["possible"]), delete
    assert graded["decoy_survived"] and (built / "se_hswish" / "autograder").is_dir()
    # the hidden tests and the master's solutions are not in the sandbox at all
    cs = _table(graded, "channel_shuffle")
    assert float(cs["hostile_read"]["total"]) == float(cs["hostile_read"]["possible"])  # its own answers still count
    assert "FileNotFoundError" in _feedback(graded, "channel_shuffle", "hostile_read")
    assert float(cs["hostile_read_master"]["total"]) == 0
    assert "FileNotFoundError" in _feedback(graded, "channel_shuffle", "hostile_read_master")
    # megabytes of output are dropped, not kept
    printed = _table(graded, "manifold_collapse")["hostile_print"]
    assert float(printed["total"]) == float(printed["possible"]), printed
    assert "characters more than the grader keeps" in _feedback(graded, "manifold_collapse", "hostile_print")


def test_submissions_are_never_modified(graded: dict[str, Any]) -> None:
    assert graded["before"] == graded["after"]
    assert len(graded["before"]) == 2 * len(NAMES) + len(MISTAKES) + 8


def test_score_table_has_a_row_per_student_and_a_column_per_question(graded: dict[str, Any], built: Path) -> None:
    for name in NAMES:
        with (graded["out"] / name / "scores.csv").open(encoding="utf-8") as f:
            header, *rows = list(csv.reader(f))
        assert header == ["student", *_questions(built, name), "total", "possible", "status", "flags", "seconds"]
        students = [r[0] for r in rows]
        assert students == sorted(students) and {"reference", "starter"} <= set(students)
        for r in rows:
            assert float(r[-5]) == sum(float(v) for v in r[1:-5])
        assert len(list((graded["out"] / name / "feedback").glob("*.md"))) == len(rows)


def test_bad_arguments_raise_value_errors(tmp_path: Path, built: Path) -> None:
    with pytest.raises(ValueError, match="unknown assignment"):
        classroom.build(["no_such_assignment"], tmp_path)
    with pytest.raises(ValueError, match="must be a folder"):
        classroom.grade(tmp_path / "missing", tmp_path / "out", dist=built)
    with pytest.raises(ValueError, match="must not be inside"):
        classroom.grade(tmp_path, tmp_path / "out", dist=built)
    with pytest.raises(ValueError, match="positive number"):
        classroom.GradeLimits(total_s=0)


def test_command_line_reports_bad_input_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert classroom.main(["grade", str(tmp_path / "missing"), "-o", str(tmp_path / "out")]) == 2
    assert "must be a folder" in capsys.readouterr().err
    assert classroom.main(["build", "no_such_assignment", "-o", str(tmp_path)]) == 2
    assert "unknown assignment" in capsys.readouterr().err


def test_ready_made_answers_are_flagged_for_the_instructor(graded: dict[str, Any]) -> None:
    table = _table(graded, "channel_shuffle")
    # decided on what runs (the object's origin, the library calls while graded), not on spelling
    assert "channel_shuffle is mobilenet_lib.blocks.channel_shuffle" in table["borrowed"]["flags"]
    assert float(table["borrowed"]["q1"]) == 3  # the grade stands; the flag is for a person to judge
    assert "Ready-made answers used" in _feedback(graded, "channel_shuffle", "borrowed")
    for name in NAMES:
        assert _table(graded, name)["reference"]["flags"] == "", name

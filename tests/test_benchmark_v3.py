"""benchmarks/v3_timings.py runs end to end on a tiny configuration and writes what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mobilenet_lib.benchmark import load_results

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "v3_timings.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_v3_timings_tiny(tmp_path: Path) -> None:
    done = _run("--tiny", "--out-dir", str(tmp_path), "--name", "tiny")
    assert done.returncode == 0, done.stderr[-3000:]
    payload = load_results(tmp_path / "tiny.json")
    r = payload["results"]
    # six activation implementations, two families, positive times
    assert len(r["activations"]) == 6
    assert {a["family"] for a in r["activations"]} == {"swish", "h-swish"}
    assert all(a["ms_per_million"] > 0 for a in r["activations"])
    # both last stages, 2 rounds x 2 repeats each
    assert set(r["last_stage"]) == {"original", "efficient"}
    assert all(len(v["times_ms"]) == 4 and v["median_ms"] > 0 for v in r["last_stage"].values())
    # baseline + 2 candidates; the pick, if any, fits the budget
    cands = r["search"]["candidates"]
    assert len(cands) == 3 and cands[0]["scales"] == [1.0] * len(cands[0]["scales"])
    assert sum(c["best"] for c in cands) <= 1
    assert all(c["latency_ms"] <= r["search"]["budget_ms"] for c in cands if c["best"])
    md = (tmp_path / "tiny.md").read_text()
    assert payload["machine"]["cpu_model"] in md and "F.hardswish" in md and "efficient" in md


@pytest.mark.parametrize(("flag", "value"), [("--repeats", "0"), ("--warmup", "-1"), ("--candidates", "0")])
def test_v3_timings_rejects_bad_settings(tmp_path: Path, flag: str, value: str) -> None:
    done = _run("--tiny", flag, value, "--out-dir", str(tmp_path))
    assert done.returncode == 2 and flag in done.stderr


def test_v3_timings_documents_its_full_command() -> None:
    assert ".venv/bin/python benchmarks/v3_timings.py\n" in SCRIPT.read_text()

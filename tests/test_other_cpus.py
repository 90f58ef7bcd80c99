"""The chapters' checked facts hold on CPUs with lesser vector instructions, not just this one.

A trained number depends on the SIMD kernels torch picks: AVX-512, AVX2 and SSE round sums in
different orders, and a few epochs later the last digits differ (the digits accuracy of the V1
chapter came out 97.33 % on one machine and 96.67 % on another). The stored outputs were made on
one CPU; here the training-dependent chapters run again, in a fresh kernel, with torch told to use
lesser instruction sets, and nbval compares every checked cell with the stored output. A cell
whose output depends on the kernels fails here, on any machine, instead of on a reader's.

``ATEN_CPU_CAPABILITY=default`` makes ATen use its portable (non-AVX) kernels;
``ONEDNN_MAX_CPU_ISA=SSE41`` caps oneDNN, which runs the convolutions, at SSE4.1. The first test
checks that each setting really takes effect, so the others cannot pass by being ignored.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LESSER = {
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "onednn-sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41"},
}
# The chapters whose checked cells sit next to training or other float-heavy work: V1 trains on
# the digits in the notebook; SE and h-swish run small models on real images.
CHAPTERS = ["mobilenet_v1.ipynb", "squeeze_excitation.ipynb", "hard_swish.ipynb"]


def _env(setting: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")}
    return {**env, **setting}


# A convolution big enough for torch to hand it to oneDNN, which then names the ISA it runs.
PROBE = """
import torch
with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
    torch.nn.Conv2d(64, 64, 3)(torch.randn(4, 64, 32, 32))
print("aten:", torch.backends.cpu.get_cpu_capability())
"""


@pytest.mark.parametrize("name", sorted(LESSER))
def test_the_setting_takes_effect(name: str) -> None:
    env = _env(LESSER[name])
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True).stdout
    if name == "aten-default":
        assert "aten: DEFAULT" in out
    else:
        isa = [line for line in out.splitlines() if "onednn_verbose" in line and ",isa:" in line]
        assert isa, f"oneDNN printed no ISA line:\n{out[:2000]}"
        assert "SSE4.1" in isa[0] and "AVX" not in isa[0], isa[0]


# Both caps at once: one fresh kernel per chapter instead of two keeps the suite short; each cap
# alone was also run over every notebook (README, "Machines the suite ran on").
BOTH = {k: v for setting in LESSER.values() for k, v in setting.items()}


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_checked_cells_agree_under_lesser_instruction_sets(chapter: str) -> None:
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
        "--nbval", "--nbval-current-env", "--nbval-cell-timeout=900", "--nbval-kernel-startup-timeout=240",
        str(ROOT / "book" / chapter),
    ]
    result = subprocess.run(cmd, env=_env(BOTH), cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"{chapter} under {BOTH}:\n{result.stdout[-6000:]}"

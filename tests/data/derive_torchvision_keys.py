"""Derive torchvision 0.28's state_dict keys and shapes from its source, without torchvision.

torchvision cannot be installed on this project's CPU machines, so these listings are worked out
by following the constructors in torchvision/models/{mobilenetv2,mobilenetv3,shufflenetv2,
resnet}.py and torchvision/ops/misc.py step by step, in plain Python. Nothing here imports
mobilenet_lib: the listings are an independent reference that tests/test_checkpoint.py compares
our models against. Run ``python tests/data/derive_torchvision_keys.py`` to rewrite the files.

File format: one ``key<TAB>shape`` line per entry, shape as comma-separated sizes ("" for a
scalar such as num_batches_tracked); ``#`` lines are comments.
"""

from __future__ import annotations

from pathlib import Path

Entry = tuple[str, tuple[int, ...]]


def make_divisible(v: float, divisor: int = 8) -> int:  # torchvision/models/_utils.py
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def bn(prefix: str, c: int) -> list[Entry]:
    return [(f"{prefix}.weight", (c,)), (f"{prefix}.bias", (c,)), (f"{prefix}.running_mean", (c,)),
            (f"{prefix}.running_var", (c,)), (f"{prefix}.num_batches_tracked", ())]


def conv(prefix: str, cin: int, cout: int, k: int, groups: int = 1, bias: bool = False) -> list[Entry]:
    out = [(f"{prefix}.weight", (cout, cin // groups, k, k))]
    return out + ([(f"{prefix}.bias", (cout,))] if bias else [])


def conv_norm_act(prefix: str, cin: int, cout: int, k: int, groups: int = 1) -> list[Entry]:
    # ops.misc.Conv2dNormActivation: a Sequential [Conv2d(bias=False), BatchNorm2d, activation?]
    return conv(f"{prefix}.0", cin, cout, k, groups) + bn(f"{prefix}.1", cout)


def mobilenet_v2() -> list[Entry]:
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
    cin = make_divisible(32)
    entries = conv_norm_act("features.0", 3, cin, 3)
    i = 1
    for t, c, n, _s in setting:
        cout = make_divisible(c)
        for _ in range(n):
            hidden = int(round(cin * t))
            p, j = f"features.{i}.conv", 0
            if t != 1:
                entries += conv_norm_act(f"{p}.{j}", cin, hidden, 1)
                j += 1
            entries += conv_norm_act(f"{p}.{j}", hidden, hidden, 3, groups=hidden)
            entries += conv(f"{p}.{j + 1}", hidden, cout, 1) + bn(f"{p}.{j + 2}", cout)
            cin, i = cout, i + 1
    entries += conv_norm_act(f"features.{i}", cin, 1280, 1)
    return entries + [("classifier.1.weight", (1000, 1280)), ("classifier.1.bias", (1000,))]


def mobilenet_v3_small() -> list[Entry]:
    # (input, kernel, expanded, out, use_se) per row of _mobilenet_v3_conf("mobilenet_v3_small")
    rows = [(16, 3, 16, 16, True), (16, 3, 72, 24, False), (24, 3, 88, 24, False), (24, 5, 96, 40, True),
            (40, 5, 240, 40, True), (40, 5, 240, 40, True), (40, 5, 120, 48, True), (48, 5, 144, 48, True),
            (48, 5, 288, 96, True), (96, 5, 576, 96, True), (96, 5, 576, 96, True)]
    entries = conv_norm_act("features.0", 3, 16, 3)
    for i, (cin, k, exp, cout, se) in enumerate(rows, start=1):
        p, j = f"features.{i}.block", 0
        if exp != cin:
            entries += conv_norm_act(f"{p}.{j}", cin, exp, 1)
            j += 1
        entries += conv_norm_act(f"{p}.{j}", exp, exp, k, groups=exp)
        j += 1
        if se:  # ops.misc.SqueezeExcitation: fc1 / fc2 are 1x1 convs with bias
            sq = make_divisible(exp // 4, 8)
            entries += conv(f"{p}.{j}.fc1", exp, sq, 1, bias=True) + conv(f"{p}.{j}.fc2", sq, exp, 1, bias=True)
            j += 1
        entries += conv_norm_act(f"{p}.{j}", exp, cout, 1)
    last_in = rows[-1][3]
    entries += conv_norm_act(f"features.{len(rows) + 1}", last_in, 6 * last_in, 1)
    return entries + [("classifier.0.weight", (1024, 576)), ("classifier.0.bias", (1024,)),
                      ("classifier.3.weight", (1000, 1024)), ("classifier.3.bias", (1000,))]


def shufflenet_v2_x1_0() -> list[Entry]:
    repeats, widths = [4, 8, 4], [24, 116, 232, 464, 1024]
    entries = conv("conv1.0", 3, 24, 3) + bn("conv1.1", 24)
    cin = widths[0]
    for s, (n, cout) in enumerate(zip(repeats, widths[1:-1]), start=2):
        half = cout // 2
        for u in range(n):
            p = f"stage{s}.{u}"
            if u == 0:  # stride 2: branch1 = [dw conv, BN, 1x1 conv, BN, ReLU]
                entries += conv(f"{p}.branch1.0", cin, cin, 3, groups=cin) + bn(f"{p}.branch1.1", cin)
                entries += conv(f"{p}.branch1.2", cin, half, 1) + bn(f"{p}.branch1.3", half)
            first_in = cin if u == 0 else half
            entries += conv(f"{p}.branch2.0", first_in, half, 1) + bn(f"{p}.branch2.1", half)
            entries += conv(f"{p}.branch2.3", half, half, 3, groups=half) + bn(f"{p}.branch2.4", half)
            entries += conv(f"{p}.branch2.5", half, half, 1) + bn(f"{p}.branch2.6", half)
            cin = cout
    entries += conv("conv5.0", cin, widths[-1], 1) + bn("conv5.1", widths[-1])
    return entries + [("fc.weight", (1000, 1024)), ("fc.bias", (1000,))]


def resnet18() -> list[Entry]:
    entries = conv("conv1", 3, 64, 7) + bn("bn1", 64)
    cin = 64
    for layer, planes in enumerate([64, 128, 256, 512], start=1):
        for b in range(2):
            stride = 2 if (b == 0 and layer > 1) else 1
            p = f"layer{layer}.{b}"
            entries += conv(f"{p}.conv1", cin, planes, 3) + bn(f"{p}.bn1", planes)
            entries += conv(f"{p}.conv2", planes, planes, 3) + bn(f"{p}.bn2", planes)
            if stride != 1 or cin != planes:
                entries += conv(f"{p}.downsample.0", cin, planes, 1) + bn(f"{p}.downsample.1", planes)
            cin = planes
    return entries + [("fc.weight", (1000, 512)), ("fc.bias", (1000,))]


LISTINGS = {
    "mobilenet_v2": mobilenet_v2,
    "mobilenet_v3_small": mobilenet_v3_small,
    "shufflenet_v2_x1_0": shufflenet_v2_x1_0,
    "resnet18": resnet18,
}


def write_all(folder: Path = Path(__file__).parent) -> None:
    for name, derive in LISTINGS.items():
        lines = [f"# torchvision 0.28 {name}: state_dict keys and shapes, derived by derive_torchvision_keys.py"]
        lines += [f"{key}\t{','.join(map(str, shape))}" for key, shape in derive()]
        (folder / f"torchvision_{name}_keys.tsv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    write_all()

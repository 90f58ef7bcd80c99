"""Fixtures shared by the library's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mobilenet_lib.benchmark import torch_threads


@pytest.fixture(scope="module")
def one_thread() -> Iterator[int]:
    """One torch thread for a whole test module, restored afterwards.

    The tests run two pytest workers on a 2-core machine and their models are small: one thread
    per worker avoids oversubscribing the cores. A module opts in with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    with torch_threads(1) as threads:
        yield threads

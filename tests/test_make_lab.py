"""``make lab`` starts JupyterLab, also as root (containers), where Jupyter needs ``--allow-root``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from svtools.paths import ROOT


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "jupyter").exists(), reason="no .venv with jupyter (make env)")
def test_make_lab_starts_the_server():
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", "LAB_ARGS=--no-browser --ServerApp.port=0 --ServerApp.token=t"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "is running at" in line:
                break
        out = "".join(lines)
        assert "is running at" in out, out[-3000:]
        if os.geteuid() == 0:
            assert "passing --allow-root" in out
        assert "Running as root is not recommended" not in out or os.geteuid() == 0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

"""SIGTERM stops a command as Ctrl-C does (a build then stops its workers and kernels)."""

import signal
import subprocess
import sys
import time

_SCRIPT = """
import sys, time
from svtools import cli
def slow(args):
    print("started", flush=True)
    try:
        time.sleep(60)
    finally:
        print("cleaned up", flush=True)  # what the build's worker shutdown stands for
cli._cmd_definitions = slow
orig = cli.build_parser
def parser():
    p = orig()
    p._subparsers._group_actions[0].choices["definitions"].set_defaults(func=slow)
    return p
cli.build_parser = parser
sys.exit(cli.main(["definitions"]))
"""


def test_sigterm_interrupts_the_command_and_runs_its_cleanup():
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "cleaned up" in out
    assert "definitions: interrupted" in err


def test_the_previous_handler_is_restored_after_main():
    from svtools import cli

    before = signal.getsignal(signal.SIGTERM)
    cli.main(["definitions"])
    assert signal.getsignal(signal.SIGTERM) is before

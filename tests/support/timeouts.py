"""How long the tests let a channel wait for a platform's answer.

On a loaded CI machine (2 cores, 7 test workers, processes started by system tests) an answer
from a fake on 127.0.0.1 can take over a second to arrive: an X post that a 1 s timeout gave up on
failed a CI run. So a test picks one of these instead of writing a number:

* :data:`ANSWERED`: every request of the test is answered. Nothing waits it out, so it is long.
* :data:`SILENT`: the test makes the platform keep silent and waits the timeout out (the post
  is then unknown), so it is short, but long enough for the same test's answered requests.
* :data:`LATE`: how long a fake keeps silent: past :data:`SILENT` by more than a stall.
"""

from pathlib import Path

ANSWERED = 10.0
SILENT = 2.0
LATE = SILENT + 2.5


def silent(config: Path, timeout: float = SILENT) -> Path:
    """``config`` (a channels.yaml written with ``timeout: {ANSWERED}``) with the channels'
    timeout made :data:`SILENT` (or ``timeout``, shorter where the silent request is the only
    one), for a test that waits a silence out; :func:`answered` sets it back."""
    return _retime(config, ANSWERED, timeout)


def answered(config: Path) -> Path:
    """``config`` after :func:`silent` with its timeout :data:`ANSWERED` again."""
    text = config.read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip().startswith("timeout:"):
            return _retime(config, float(line.split(":", 1)[1]), ANSWERED)
    raise AssertionError(f"{config} has no timeout")


def _retime(config: Path, was: float, now: float) -> Path:
    text = config.read_text(encoding="utf-8")
    assert f"timeout: {was}" in text, f"write the config with timeout: {was}"
    config.write_text(text.replace(f"timeout: {was}", f"timeout: {now}"), encoding="utf-8")
    return config

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


def silent(config: Path) -> Path:
    """``config`` (a channels.yaml written with ``timeout: {ANSWERED}``) with the channels'
    timeout made :data:`SILENT`, for a test that waits a silence out."""
    text = config.read_text(encoding="utf-8")
    assert f"timeout: {ANSWERED}" in text, "write the config with timeout: {ANSWERED}"
    config.write_text(text.replace(f"timeout: {ANSWERED}", f"timeout: {SILENT}"),
                      encoding="utf-8")
    return config

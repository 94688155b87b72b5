"""Rule scripts log progress and, when they fail, the reason, to the rule's log."""

import subprocess
import sys


def test_uncaught_exception_reaches_the_log(tmp_path):
    log = tmp_path / "job.log"
    code = (
        "from microprop.logs import setup_logging\n"
        f"setup_logging({str(log)!r}).info('started')\n"
        "raise ValueError('shard_3.h5 is truncated')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0
    text = log.read_text()
    assert "started" in text
    assert "job failed: shard_3.h5 is truncated" in text and "Traceback" in text

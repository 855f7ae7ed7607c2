"""`make rehearse`: the Docker stack brought up on a real Docker engine, checked as an operator
would, deployed twice and torn down.

    PYTHONPATH=platform:tests .venv/bin/python -m rehearsal   # the whole rehearsal
    REHEARSAL_KEEP=1 ... -m rehearsal                         # leave the stack up afterwards
    ... -m rehearsal down                                     # remove a stack left up
"""

from __future__ import annotations

import os
import sys
import time

from rehearsal.run import main

if __name__ == "__main__":
    started = time.monotonic()
    code = main(sys.argv[1:], keep=os.environ.get("REHEARSAL_KEEP") == "1")
    print(f"rehearsal: {'passed' if code == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s")
    sys.exit(code)

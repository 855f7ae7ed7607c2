from __future__ import annotations

import sys

from learnbot.cli import main

sys.exit(main())

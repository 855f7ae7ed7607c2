"""alerts/slo.py: the committed burn-rate alerts are what its table of windows writes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = Path("alerts") / "slo.py"
RULE_FILE = Path("alerts") / "rules" / "api-slo-alerts.yml"


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / GENERATOR), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_committed_rule_file_is_what_the_table_writes() -> None:
    result = check(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_shows_a_hand_edit_and_the_command_that_undoes_it(tmp_path: Path) -> None:
    (tmp_path / RULE_FILE).parent.mkdir(parents=True)
    shutil.copy(ROOT / GENERATOR, tmp_path / GENERATOR)
    edited = (ROOT / RULE_FILE).read_text().replace("for: 2m", "for: 5m")
    (tmp_path / RULE_FILE).write_text(edited)
    result = check(tmp_path)
    assert result.returncode == 1
    assert "-        for: 5m\n+        for: 2m\n" in result.stdout
    assert "run `make alerts`" in result.stdout

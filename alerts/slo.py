"""The burn-rate alerts of the learnbot API's two 30-day SLOs, written from one table of windows
into alerts/rules/api-slo-alerts.yml: `make alerts` rewrites the file, `--check` fails while
the committed file differs (tests/monitoring/test_slo.py runs it).

Multi-window, multi-burn-rate alerts (The Site Reliability Workbook, "Alerting on SLOs"): a
window fires when the SLI over its long window (the budget really burns) and over its short
window (it is still burning) both exceed `factor` times the budget. Each SLO is one alert with a
rule per window, told apart by their `long` and `short` labels, as kubernetes-mixin's
KubeAPIErrorBudgetBurn.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "rules" / "api-slo-alerts.yml"
PERIOD_DAYS = 30
JOB = "learnbot-api"
UNITS = {"m": "minute", "h": "hour", "d": "day"}


@dataclass(frozen=True, slots=True)
class Window:
    factor: float
    long: str
    short: str
    severity: str
    for_: str


# A page (critical) for the fast burns, a ticket (warning) for the slow ones.
WINDOWS = (
    Window(factor=14.4, long="1h", short="5m", severity="critical", for_="2m"),
    Window(factor=6, long="6h", short="30m", severity="critical", for_="15m"),
    Window(factor=3, long="1d", short="2h", severity="warning", for_="1h"),
    Window(factor=1, long="3d", short="6h", severity="warning", for_="3h"),
)


@dataclass(frozen=True, slots=True)
class Slo:
    # The `slo` label; the alert is LearnbotApi<Name>BudgetBurn.
    name: str
    # The recorded SLI, job:<...>:ratio_rate<window> in alerts/records/api-slo-records.yml.
    sli: str
    budget: float
    # What makes a request count against the budget, and the objective, in words.
    bad: str
    objective: str

    @property
    def alert(self) -> str:
        return f"LearnbotApi{self.name.capitalize()}BudgetBurn"


SLOS = (
    Slo(
        name="availability",
        sli="job:slo_availability_errors",
        budget=0.001,
        bad="answered with a 5xx",
        objective="99.9% of requests not 5xx",
    ),
    Slo(
        name="latency",
        sli="job:slo_latency_slow",
        budget=0.01,
        bad="slower than 300 ms",
        objective="99% of requests under 300 ms",
    ),
)

HEADER = """\
# Written by alerts/slo.py from its table of burn-rate windows (`make alerts`): change the table,
# not this file. Burn-rate alerts on the learnbot API's two 30-day SLOs, one alert per SLO with a
# rule per window, told apart by their `long` and `short` labels. The SLIs, and the routes they
# leave out, are in ../records/api-slo-records.yml.
groups:
"""


def in_words(duration: str) -> str:
    count, unit = int(duration[:-1]), UNITS[duration[-1]]
    return unit if count == 1 else f"{count} {unit}s"


def rule(slo: Slo, window: Window) -> str:
    threshold = f"({window.factor:g} * {slo.budget:g})"
    pace = (
        "faster than the sustainable rate"
        if window.factor == 1
        else f"at {window.factor:g} times the sustainable rate"
    )
    # A folded scalar: one line for Alertmanager, three in the file.
    description = "".join(
        f"            {line}\n"
        for line in (
            "{{ $value | humanizePercentage }} of the requests over the last "
            f"{in_words(window.long)} were",
            f"{slo.bad} (the last {in_words(window.short)} too), "
            f"against a budget of {slo.budget * 100:g}% ({slo.objective}):",
            f"at this pace the {PERIOD_DAYS}-day budget is gone in "
            f"{round(PERIOD_DAYS / window.factor)} days.",
        )
    )
    return f"""\
      - alert: {slo.alert}
        expr: |
          {slo.sli}:ratio_rate{window.long}{{job="{JOB}"}} > {threshold}
          and
          {slo.sli}:ratio_rate{window.short}{{job="{JOB}"}} > {threshold}
        for: {window.for_}
        labels:
          severity: {window.severity}
          component: api
          slo: {slo.name}
          long: {window.long}
          short: {window.short}
        annotations:
          summary: The learnbot API burns its {PERIOD_DAYS}-day {slo.name} error budget {pace}.
          description: >-
{description}\
          runbook_url: runbooks/{slo.alert}.md
"""


def rule_file() -> str:
    groups = [
        f"  - name: learnbot-api-slo-{slo.name}\n    rules:\n"
        + "".join(rule(slo, window) for window in WINDOWS)
        for slo in SLOS
    ]
    return HEADER + "".join(groups)


def main(arguments: list[str]) -> int:
    expected = rule_file()
    if arguments == ["--check"]:
        committed = OUTPUT.read_text() if OUTPUT.exists() else ""
        if committed == expected:
            return 0
        name = str(OUTPUT.relative_to(OUTPUT.parents[2]))
        diff = difflib.unified_diff(
            committed.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            f"{name} (committed)",
            f"{name} (alerts/slo.py)",
        )
        sys.stdout.writelines(diff)
        print(f"{name} differs from its table: run `make alerts`")
        return 1
    if arguments:
        print("usage: alerts/slo.py [--check]", file=sys.stderr)
        return 2
    OUTPUT.write_text(expected)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

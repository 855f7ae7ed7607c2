"""The monitoring tests find the rule files as the Pulumi program does (learnbot_platform)."""

import pulumi_program  # noqa: F401  (platform/ on sys.path, as Pulumi puts it)

"""The learnbot stack; `pulumi up` from the repository root runs this.

It reads and checks the `learnbot:` settings before creating anything, then composes the
network, the database, the API, the backup job and monitoring on the target that
`learnbot:target` names: one Docker engine (the default) or a Kubernetes cluster.
"""

from __future__ import annotations

import pulumi
import pulumi.runtime.config

from learnbot_platform.repository import project_version, shipped_locales
from learnbot_platform.stack_config import KEYS, NAMESPACE, StackConfigError, load_stack_config


def read_settings() -> dict[str, str]:
    config = pulumi.Config(NAMESPACE)
    raw = {key: value for key in KEYS if (value := config.get(key)) is not None}
    # Every key of the namespace is checked, so that a misspelt one is reported, not ignored.
    for full_key, value in pulumi.runtime.config.CONFIG.get().items():
        namespace, _, key = full_key.partition(":")
        if namespace == NAMESPACE:
            raw.setdefault(key, str(value))
    return raw


try:
    settings = load_stack_config(
        read_settings(),
        shipped_locales=shipped_locales(),
        default_api_image_tag=project_version(),
    )
except StackConfigError as error:
    raise pulumi.RunError(str(error)) from None

if settings.target == "kubernetes":
    from learnbot_platform.kubernetes.stack import deploy
else:
    from learnbot_platform.docker.stack import deploy

stack = deploy(settings)
network, database, api = stack.network, stack.database, stack.api
backups, monitoring = stack.backups, stack.monitoring
outputs = stack.outputs
for name, value in outputs.items():
    pulumi.export(name, value)

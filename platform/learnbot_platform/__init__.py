"""The learnbot stack as a Pulumi program: the settings, the service's environment, the files the
stack renders and what monitoring is on either target, with one subpackage per target."""

#!/bin/sh
# A container has no init system: a package's maintainer scripts start no service while an
# image is built.
exit 101

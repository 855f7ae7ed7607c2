#!/usr/bin/env bash
# The official redis image's entrypoint contract
# (https://github.com/docker-library/redis/blob/master/docker-entrypoint.sh):
#   - a first argument starting with "-" or ending in ".conf" runs `redis-server` with them;
#   - `redis-server` as root makes the working folder (/data) redis's and runs again as redis;
#   - a umask of 0022 becomes 0077.
# And the official build's default that Debian's binary lacks: protected mode is off unless the
# command line or the configuration file sets it, so a server started without a configuration
# answers other containers.
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec gosu redis "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = redis-server ]; then
	protected_mode_set=
	for arg in "${@:2}"; do
		[ "$arg" = --protected-mode ] && protected_mode_set=1
	done
	if [ "${2%.conf}" != "${2:-}" ] && [ -r "$2" ] \
		&& grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "$2"; then
		protected_mode_set=1
	fi
	if [ -z "$protected_mode_set" ]; then
		set -- "$@" --protected-mode no
	fi
fi

if [ "$(umask)" = 0022 ]; then
	umask 0077
fi

exec "$@"

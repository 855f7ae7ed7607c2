#!/usr/bin/env bash
# The official nginx image's entrypoint contract
# (https://github.com/nginxinc/docker-nginx/blob/master/entrypoint/docker-entrypoint.sh):
# for `nginx` or `nginx-debug`, run the scripts in /docker-entrypoint.d/ (*.envsh sourced, *.sh
# run, if executable), then the command.
# And the official build's default that Debian's lacks: nginx.org's build runs its workers as
# `nginx` when the configuration names no user; Debian's as `nobody`. Without a `user`
# directive in the configuration, this adds `user nginx;` to the -g directives.
set -e

log() {
	if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
		echo "$@"
	fi
}

if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
	if find /docker-entrypoint.d/ -mindepth 1 -maxdepth 1 -type f -print -quit 2>/dev/null | read -r; then
		log "$0: /docker-entrypoint.d/ is not empty, will attempt to perform configuration"
		while IFS= read -r f; do
			case "$f" in
				*.envsh)
					if [ -x "$f" ]; then
						log "$0: Sourcing $f"
						# shellcheck disable=SC1090
						. "$f"
					else
						log "$0: Ignoring $f, not executable"
					fi
					;;
				*.sh)
					if [ -x "$f" ]; then
						log "$0: Launching $f"
						"$f"
					else
						log "$0: Ignoring $f, not executable"
					fi
					;;
				*) log "$0: Ignoring $f" ;;
			esac
		done < <(find /docker-entrypoint.d/ -follow -type f -print | sort -V)
		log "$0: Configuration complete; ready for start up"
	else
		log "$0: No files found in /docker-entrypoint.d/, skipping configuration"
	fi

	config=/etc/nginx/nginx.conf
	directives=
	args=("$1")
	shift
	while [ $# -gt 0 ]; do
		case "$1" in
			-c) config="$2"; args+=("$1" "$2"); shift 2 ;;
			-g) directives="$2"; shift 2 ;;
			*) args+=("$1"); shift ;;
		esac
	done
	if [ -r "$config" ] && ! grep -qE '^[[:space:]]*user[[:space:]]' "$config"; then
		directives="user nginx; $directives"
	fi
	if [ -n "$directives" ]; then
		args+=(-g "$directives")
	fi
	set -- "${args[@]}"
fi

exec "$@"

#!/usr/bin/env bash
# The official postgres image's entrypoint contract, in short
# (https://github.com/docker-library/postgres/blob/master/15/bookworm/docker-entrypoint.sh):
#   - a first argument starting with "-" runs `postgres` with those arguments;
#   - `postgres` (not asking for --help or --version): as root, make PGDATA and the socket folder
#     the postgres user's, then run again as postgres through gosu; on an empty PGDATA, initdb
#     with POSTGRES_USER and POSTGRES_PASSWORD, a `host all all all <method>` line, a server on
#     the Unix socket only while POSTGRES_DB is made and /docker-entrypoint-initdb.d/ runs;
#   - POSTGRES_PASSWORD, POSTGRES_USER, POSTGRES_DB and POSTGRES_INITDB_ARGS may come from the
#     file named by the same variable with _FILE appended;
#   - any other command runs as it is, as the container's user.
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR from itself, else from the file VAR_FILE names, else DEFAULT.
file_env() {
	local var="$1" file_var="${1}_FILE" default="${2:-}" value
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$var" "$file_var"
		exit 1
	fi
	value="$default"
	if [ -n "${!var:-}" ]; then
		value="${!var}"
	elif [ -n "${!file_var:-}" ]; then
		value="$(< "${!file_var}")"
	fi
	export "$var"="$value"
	unset "$file_var"
}

wants_help() {
	local arg
	for arg; do
		case "$arg" in
			-'?' | --help | --describe-config | -V | --version) return 0 ;;
		esac
	done
	return 1
}

# psql_setup DATABASE [ARGS]: psql as the new superuser, on the temporary server's socket.
psql_setup() {
	local database="$1"
	shift
	PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password \
		--no-psqlrc --dbname "$database" "$@"
}

initialize() {
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		cat >&2 <<-'EOE'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
		EOE
		exit 1
	fi
	ls /docker-entrypoint-initdb.d/ > /dev/null

	local waldir=()
	# shellcheck disable=SC2034 # used in the eval below
	[ -n "${POSTGRES_INITDB_WALDIR:-}" ] && waldir=(--waldir "$POSTGRES_INITDB_WALDIR")
	# POSTGRES_INITDB_ARGS is word-split as a shell would, like the official image does.
	eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"' "${waldir[@]}"'

	# The server's own arguments, without the leading `postgres`.
	[ "$1" = postgres ] && shift
	# Host connections authenticate as the server encrypts passwords (scram-sha-256 on 15).
	: "${POSTGRES_HOST_AUTH_METHOD:=$(postgres -C password_encryption "$@")}"
	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"

	export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
	# The temporary server answers on the Unix socket only.
	PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -w start \
		-o "$(printf '%q ' "$@") -c listen_addresses='' -p ${PGPORT:-5432}"

	local exists
	exists="$(psql_setup postgres --set db="$POSTGRES_DB" --tuples-only \
		<<< "SELECT 1 FROM pg_database WHERE datname = :'db';")"
	if [ -z "$exists" ]; then
		psql_setup postgres --set db="$POSTGRES_DB" <<< 'CREATE DATABASE :"db";'
	fi

	local f
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					printf '%s: running %s\n' "$0" "$f"
					"$f"
				else
					printf '%s: sourcing %s\n' "$0" "$f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql) printf '%s: running %s\n' "$0" "$f"; psql_setup "$POSTGRES_DB" -f "$f" ;;
			*.sql.gz) printf '%s: running %s\n' "$0" "$f"; gunzip -c "$f" | psql_setup "$POSTGRES_DB" ;;
			*.sql.xz) printf '%s: running %s\n' "$0" "$f"; xzcat "$f" | psql_setup "$POSTGRES_DB" ;;
			*.sql.zst) printf '%s: running %s\n' "$0" "$f"; zstd -dc "$f" | psql_setup "$POSTGRES_DB" ;;
			*) [ -e "$f" ] && printf '%s: ignoring %s\n' "$0" "$f" ;;
		esac
	done

	PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
	unset PGPASSWORD
	printf '\nPostgreSQL init process complete; ready for start up.\n\n'
}

if [ "${1:0:1}" = - ]; then
	set -- postgres "$@"
fi

if [ "$1" = postgres ] && ! wants_help "$@"; then
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=}"

	mkdir -p "$PGDATA"
	chmod 00700 "$PGDATA" || :
	mkdir -p /var/run/postgresql || :
	chmod 03775 /var/run/postgresql || :
	if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
		mkdir -p "$POSTGRES_INITDB_WALDIR"
		[ "$(id -u)" = 0 ] && find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres '{}' +
		chmod 700 "$POSTGRES_INITDB_WALDIR"
	fi
	if [ "$(id -u)" = 0 ]; then
		find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
		exec gosu postgres "${BASH_SOURCE[0]}" "$@"
	fi

	if [ -s "$PGDATA/PG_VERSION" ]; then
		printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
	else
		initialize "$@"
	fi
fi

exec "$@"

# common.sh: shared by test/run and demo/run.  Installs what firstsight needs,
# builds and installs it, and starts a throwaway cluster that runs as an
# unprivileged user (PostgreSQL refuses to run as root).
# shellcheck shell=bash

# the PostgreSQL 15 installation to build against and test with (a copy elsewhere
# works too: its binaries find their share and lib directories relative to bin)
FS_PG=${FS_PG:-/usr/lib/postgresql/15}
FS_PACKAGES="build-essential postgresql-15 postgresql-server-dev-15 libopenblas-dev libcurl4-openssl-dev libipc-run-perl rsync"
# the dashboard's build and test (dashboard/, TAP 600): headless Chromium, and
# Node.js with npm where no node is installed yet
FS_PACKAGES="$FS_PACKAGES chromium"
command -v node >/dev/null 2>&1 || FS_PACKAGES="$FS_PACKAGES nodejs npm"

fs_say() { printf '==> %s\n' "$*" >&2; }

# install missing apt packages (as root) or say which are missing
fs_install_deps() {
	local missing=""
	for p in $FS_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		fs_say "missing packages:$missing; run as root or install them"
		return 1
	fi
	fs_say "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# build and install the extension into the server's directories
fs_build_install() {
	fs_say "building firstsight"
	make -s -j"$(nproc)" PG_CONFIG="$FS_PG/bin/pg_config" >/dev/null
	make -s install PG_CONFIG="$FS_PG/bin/pg_config" >/dev/null
}

# a user to run servers and tests as
fs_run_user() {
	if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi
}

# run a command as the unprivileged user, keeping the environment we need
fs_as_user() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$(fs_run_user)" -- env PATH="$PATH" "$@"
	else
		"$@"
	fi
}

# copy the tree (without .git) to a scratch dir owned by the run user; prints it
fs_scratch_copy() {
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/firstsight.XXXXXX")
	rsync -a --exclude .git --exclude tmp_check --exclude results \
		--exclude dashboard/node_modules --exclude dashboard/dist --exclude dashboard/src/.observablehq ./ "$dir/"
	[ "$(id -u)" = 0 ] && chown -R "$(fs_run_user)" "$dir"
	echo "$dir"
}

# start a throwaway cluster in $1 (data, socket and log inside it) on a free port
fs_start_cluster() {
	local dir=$1 extra=${2:-}
	local bin=$FS_PG/bin
	FS_PORT=$(( 20000 + RANDOM % 20000 ))
	fs_as_user "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
	cat >>"$dir/data/postgresql.conf" <<CONF
port = $FS_PORT
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
shared_buffers = 512MB
maintenance_work_mem = 512MB
$extra
CONF
	export PGHOST=$dir PGPORT=$FS_PORT PGUSER=postgres
	if ! fs_as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null; then
		fs_say "the server did not start; its log ends:"
		tail -n 5 "$dir/server.log" >&2
		return 1
	fi
}

fs_stop_cluster() {
	"$FS_PG/bin/pg_ctl" -D "$1/data" -m fast stop >/dev/null 2>&1 ||
		fs_as_user "$FS_PG/bin/pg_ctl" -D "$1/data" -m fast stop >/dev/null 2>&1 || true
}

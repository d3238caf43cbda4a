# test/fuzz/build.sh: sourced by run.sh and replay.sh.  Builds a fuzz target
# against the real src/embedding/embedding_io.c and the stub backend.
# shellcheck shell=bash

fuzz_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
command -v "$PG_CONFIG" >/dev/null || PG_CONFIG=${FS_PG:-/usr/lib/postgresql/15}/bin/pg_config

# install missing apt packages when root, else say which are missing
fuzz_need_packages() {
	local missing="" p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "missing packages:$missing; run as root or install them" >&2
		return 1
	fi
	echo "installing$missing" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# fuzz_build BIN TARGET.c MODE: MODE fuzzer = clang with libFuzzer, ASan and
# UBSan; MODE replay = ${CC:-gcc} without sanitizers plus replay.c (valgrind)
fuzz_build() {
	local bin=$1 src=$2 mode=$3 inc libdir
	local -a cc flags libs
	inc=$("$PG_CONFIG" --includedir-server)
	libdir=$("$PG_CONFIG" --pkglibdir)
	libs=(-lm)
	if [ -f "$libdir/libpgcommon.a" ]; then
		libs=(-L"$libdir" -lpgcommon -lpgport -lm)
	else
		flags+=(-DPGSTUB_NO_PGCOMMON)
	fi
	flags+=(-g -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
		-I"$fuzz_root/test/fuzz" -I"$fuzz_root/src/embedding" -I"$inc")
	if [ "$mode" = fuzzer ]; then
		# shellcheck disable=SC2054 # the commas belong to -fsanitize=
		cc=(clang -Wno-ignored-attributes -O1 -fno-omit-frame-pointer
			-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
	else
		# shellcheck disable=SC2206 # CC may carry flags (coverage.sh)
		cc=(${CC:-gcc} -O1)
		src="$src replay.c"
	fi
	# shellcheck disable=SC2086
	(cd "$fuzz_root/test/fuzz" && "${cc[@]}" "${flags[@]}" $src pgstub.c \
		"$fuzz_root/src/embedding/embedding_io.c" "${libs[@]}" -o "$bin")
}

# fuzz_big_seeds text|binary DIR: seeds at and just past 16000 dimensions,
# made here rather than stored in the repository
fuzz_big_seeds() {
	local kind=$1 dir=$2
	if [ "$kind" = text ]; then
		perl -e 'print "[", join(",", map { $_ % 7 - 3 } 1..16000), "]"' >"$dir/big_16000"
		perl -e 'print "[", join(",", map { $_ % 7 - 3 } 1..16001), "]"' >"$dir/big_16001"
	else
		perl -e 'print pack("nn", 16000, 0), pack("f>", 0.5) x 16000' >"$dir/big_16000"
		perl -e 'print pack("nn", 16001, 0), pack("f>", 0.5) x 16001' >"$dir/big_16001"
	fi
}

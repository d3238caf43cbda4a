#!/usr/bin/env bash
# test/private_pg.sh DIR: copy the system's PostgreSQL 15 (binaries, share,
# headers) into DIR and print the path to use as FS_PG, so that a second
# checkout can build, install and test without touching the system's
# extension directory:   FS_PG=$(test/private_pg.sh /tmp/pg-a) test/run
set -euo pipefail
dir=${1:?usage: test/private_pg.sh DIR}
src=/usr/lib/postgresql/15
mkdir -p "$dir/usr/lib/postgresql" "$dir/usr/share/postgresql" "$dir/usr/include"
cp -a "$src" "$dir/usr/lib/postgresql/"
cp -a /usr/share/postgresql/15 "$dir/usr/share/postgresql/"
cp -a /usr/include/postgresql "$dir/usr/include/"
echo "$dir/usr/lib/postgresql/15"

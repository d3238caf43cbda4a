#!/usr/bin/env bash
# test/fuzz/coverage.sh: source-based line coverage of embedding_io.c reached
# by the seed corpora plus the corpora run.sh grew ($FUZZ_OUT), per function
# of the input path.  Builds with clang -fprofile-instr-generate.
set -uo pipefail
cd "$(dirname "$0")" || exit 1
here=$(pwd)
out=${FUZZ_OUT:-$here/build}
# shellcheck source=test/fuzz/build.sh
. ./build.sh

fuzz_need_packages clang llvm-14 postgresql-server-dev-15 || exit 1
profdata=$(command -v llvm-profdata-14 || command -v llvm-profdata)
llvmcov=$(command -v llvm-cov-14 || command -v llvm-cov)
mkdir -p "$out/cov"
rm -f "$out"/cov/*.profraw
bins=()
for t in in recv; do
	bin="$out/cov_embedding_$t"
	CC="clang -Wno-ignored-attributes -fprofile-instr-generate -fcoverage-mapping" \
		fuzz_build "$bin" "fuzz_embedding_$t.c" replay || exit 1
	seeds="$out/cov-seeds-$t"
	mkdir -p "$seeds"
	if [ "$t" = in ]; then
		cp corpus/text/* "$seeds/" && fuzz_big_seeds text "$seeds"
	else
		cp corpus/binary/* "$seeds/" && fuzz_big_seeds binary "$seeds"
	fi
	dirs=("$seeds")
	[ -d "$out/corpus-$t" ] && dirs+=("$out/corpus-$t")
	LLVM_PROFILE_FILE="$out/cov/$t.profraw" "$bin" "${dirs[@]}" >/dev/null || exit 1
	bins+=("$bin")
done
"$profdata" merge -sparse "$out"/cov/*.profraw -o "$out/cov/all.profdata"
"$llvmcov" report "${bins[0]}" -object "${bins[1]}" -instr-profile="$out/cov/all.profdata" \
	-show-functions "$fuzz_root/src/embedding/embedding_io.c" |
	grep -E '^([a-z_]*\.c:)?(embedding_in|embedding_recv|embedding_out|embedding_send|ParseElement|SkipSpace|IsSpace|SyntaxError|InitEmbedding|EmbeddingCheck[A-Za-z]*|Name|TOTAL) '

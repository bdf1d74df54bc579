#!/bin/sh
# Fuzz every Go fuzz target in the repository (func FuzzXxx in a _test.go
# file) for FUZZTIME each (default 30s), one after the other. A crash is
# written by Go to the package's testdata/fuzz/FuzzXxx/: commit it as a seed
# with the fix, so plain `go test` keeps checking it. Exits non-zero if any
# target failed. FUZZPARALLEL (default 1) is the number of fuzzing workers.
set -u
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-30s}"
FUZZPARALLEL="${FUZZPARALLEL:-1}"

# Packages with a fuzz target, found by a quick search so that only those
# test binaries are built; go test -list then names the targets as Go sees
# them.
dirs=$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u)
if [ -z "$dirs" ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

failed=""
count=0
for dir in $dirs; do
	targets=$(go test -list '^Fuzz' "$dir" | grep '^Fuzz') || {
		failed="$failed $dir"
		continue
	}
	for target in $targets; do
		count=$((count + 1))
		echo "fuzz: $dir $target for $FUZZTIME"
		if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime=2s -parallel="$FUZZPARALLEL" "$dir"; then
			failed="$failed $dir:$target"
		fi
	done
done

if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed" >&2
	exit 1
fi
echo "fuzz: $count targets, $FUZZTIME each, no failures"

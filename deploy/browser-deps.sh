#!/usr/bin/env bash
# Installs what the browser tests (internal/testenv/browser) need, when missing:
# Debian's Chromium (/usr/bin/chromium) and axe-core at a pinned version in
# .tools/axe-core/ (git-ignored). Tests read both from disk and fetch nothing.
# Idempotent: prints nothing when everything is already there.
set -euo pipefail

# The accessibility rules the tests hold pages to. To upgrade, change both
# lines (`npm view axe-core@X dist.integrity`); the next run replaces the copy.
AXE_VERSION=4.14.1
AXE_INTEGRITY=sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
axe_dir="$root/.tools/axe-core"

die() {
	echo "browser-deps: $*" >&2
	exit 1
}

tmp=""
cleanup() { if [ -n "$tmp" ]; then rm -rf "$tmp"; fi; }
trap cleanup EXIT

# Chromium from Debian (test tools' own browser downloads fail on these machines).
if [ ! -x /usr/bin/chromium ]; then
	command -v apt-get >/dev/null || die "apt-get not found: install Chromium so that /usr/bin/chromium exists"
	sudo=()
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || die "sudo not found: run as root, or install Debian's chromium package yourself"
		sudo=(sudo)
	fi
	tmp="$(mktemp -d)"
	echo "browser-deps: installing chromium (Debian package; takes a few minutes)"
	if ! { "${sudo[@]}" apt-get update -qq &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$tmp/apt.log" 2>&1; then
		tail -n 20 "$tmp/apt.log" >&2
		die "apt-get install chromium failed (output above)"
	fi
	[ -x /usr/bin/chromium ] || die "chromium installed but /usr/bin/chromium is missing"
fi

axe_installed() {
	[ -f "$axe_dir/axe.min.js" ] && [ -f "$axe_dir/package.json" ] &&
		grep -Eq "\"version\"[[:space:]]*:[[:space:]]*\"${AXE_VERSION//./\\.}\"" "$axe_dir/package.json"
}

if ! axe_installed; then
	command -v npm >/dev/null || die "npm not found: install Node.js and npm (Debian: apt-get install npm) to fetch axe-core $AXE_VERSION"
	command -v node >/dev/null || die "node not found: install Node.js to fetch axe-core $AXE_VERSION"
	command -v tar >/dev/null || die "tar not found: needed to unpack axe-core $AXE_VERSION"
	[ -n "$tmp" ] || tmp="$(mktemp -d)"
	(cd "$tmp" && npm pack --loglevel=error --pack-destination "$tmp" "axe-core@$AXE_VERSION" >/dev/null) ||
		die "npm pack axe-core@$AXE_VERSION failed: check that npm reaches its registry"
	tgz="$tmp/axe-core-$AXE_VERSION.tgz"
	[ -f "$tgz" ] || die "npm pack did not write $tgz"
	got="$(node -e 'const c = require("crypto"), f = require("fs");
		process.stdout.write("sha512-" + c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tgz")"
	[ "$got" = "$AXE_INTEGRITY" ] || die "axe-core $AXE_VERSION tarball has integrity $got, want $AXE_INTEGRITY"
	mkdir -p "$tmp/unpacked"
	tar -xzf "$tgz" -C "$tmp/unpacked"
	[ -f "$tmp/unpacked/package/axe.min.js" ] || die "axe-core $AXE_VERSION tarball has no package/axe.min.js"
	mkdir -p "$root/.tools"
	rm -rf "$axe_dir"
	mv "$tmp/unpacked/package" "$axe_dir"
	axe_installed || die "axe-core in $axe_dir is not version $AXE_VERSION after install"
	echo "browser-deps: installed axe-core $AXE_VERSION into .tools/axe-core"
fi

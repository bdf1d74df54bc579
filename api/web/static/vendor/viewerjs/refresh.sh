#!/bin/sh
# Refreshes the vendored Viewer.js (the staff desk's document viewer: zoom
# and rotate) from npm, at the pinned version, with its licence. Run from
# the repository's root: sh api/web/static/vendor/viewerjs/refresh.sh
# To move to another version, change VERSION, run, look at the desk's
# browser test screenshots, and commit the four files together.
set -eu
VERSION=1.11.7
dir=api/web/static/vendor/viewerjs
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "viewerjs@$VERSION" >/dev/null && tar xzf "viewerjs-$VERSION.tgz")
cp "$tmp/package/dist/viewer.min.js" "$tmp/package/dist/viewer.min.css" "$tmp/package/LICENSE" "$dir/"
echo "$VERSION" > "$dir/VERSION"
echo "Viewer.js $VERSION in $dir"

#!/usr/bin/env bash
# Builds dist/promptyard_VERSION_amd64.deb from the static binary: /usr/bin/promptyard, the
# systemd unit, /etc/promptyard/promptyard.toml (a conffile), a `promptyard` system user and
# /var/lib/promptyard owned by it.
# Usage: packaging/deb/build-deb.sh BINARY VERSION DIST
set -euo pipefail

BIN="$1"
VERSION="$2"
DIST="$3"
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
ROOT="$(mktemp -d)"
chmod 0755 "$ROOT"
trap 'rm -rf "$ROOT"' EXIT

install -D -s -m 0755 "$BIN" "$ROOT/usr/bin/promptyard"
install -D -m 0644 "$REPO/systemd/promptyard.service" "$ROOT/lib/systemd/system/promptyard.service"
install -D -m 0640 "$REPO/config.example.toml" "$ROOT/etc/promptyard/promptyard.toml"
install -D -m 0644 "$REPO/LICENSE" "$ROOT/usr/share/doc/promptyard/copyright"
install -D -m 0644 "$REPO/README.md" "$ROOT/usr/share/doc/promptyard/README.md"
mkdir -p "$ROOT/DEBIAN"
sed "s/@VERSION@/$VERSION/" "$HERE/control" >"$ROOT/DEBIAN/control"
install -m 0644 "$HERE/conffiles" "$ROOT/DEBIAN/conffiles"
install -m 0755 "$HERE/postinst" "$HERE/prerm" "$HERE/postrm" "$ROOT/DEBIAN/"
dpkg-deb --root-owner-group --build "$ROOT" "$DIST/promptyard_${VERSION}_amd64.deb"

#!/usr/bin/env bash
# Builds the release: one statically linked binary (glibc with crt-static, rustls, no OpenSSL,
# every asset embedded), checks that it is static and runs, and packs
#   dist/promptyard-VERSION-x86_64-linux.tar.gz   binary, example config, systemd unit,
#                                                  licence, README, SHA256SUMS
#   dist/promptyard_VERSION_amd64.deb             when dpkg-deb is available
# Run from anywhere: packaging/build-release.sh
set -euo pipefail

cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
NAME="promptyard-$VERSION-x86_64-linux"
DIST="$PWD/dist"

# --target keeps the flag away from build scripts, which must stay dynamic.
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --target "$TARGET"
BIN="$CARGO_TARGET_DIR/$TARGET/release/promptyard"

description="$(file -b "$BIN")"
echo "file: $description"
case "$description" in
  *"statically linked"* | *"static-pie linked"*) ;;
  *) echo "error: the binary is not statically linked" >&2; exit 1 ;;
esac
if ldd "$BIN" 2>&1 | grep -q '=>'; then
  echo "error: ldd finds shared libraries:" >&2
  ldd "$BIN" >&2
  exit 1
fi
"$BIN" --version

# Smoke test with nothing around it: in an empty root (no libraries, no /etc, only the random
# devices) the binary starts, creates its data and key, and answers /healthz.
if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null && command -v curl >/dev/null; then
  jail="$(mktemp -d)"
  install -m 0755 "$BIN" "$jail/promptyard"
  # The only things it needs from the system: the kernel's random devices (as any container
  # runtime provides them).
  mkdir "$jail/dev"
  mknod -m 0444 "$jail/dev/random" c 1 8
  mknod -m 0444 "$jail/dev/urandom" c 1 9
  port=$((20000 + RANDOM % 20000))
  chroot "$jail" /promptyard serve --listen "127.0.0.1:$port" --data-dir /data >"$jail.log" 2>&1 &
  pid=$!
  ok=0
  for _ in $(seq 1 100); do
    if [ "$(curl -fsS "http://127.0.0.1:$port/healthz" 2>/dev/null)" = ok ]; then ok=1; break; fi
    sleep 0.1
  done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
  if [ "$ok" != 1 ]; then
    cat "$jail.log" >&2
    echo "error: the binary did not start in an empty root" >&2
    exit 1
  fi
  echo "smoke test: started in an empty root, /healthz answered; left: $(cd "$jail" && find . -maxdepth 2 | sort | tr '\n' ' ')"
  rm -rf "$jail" "$jail.log"
fi

rm -rf "${DIST:?}/$NAME"
mkdir -p "$DIST/$NAME"
# Symbols stripped (92 MB to 84 MB here).
install -s -m 0755 "$BIN" "$DIST/$NAME/promptyard"
install -m 0644 config.example.toml LICENSE README.md "$DIST/$NAME/"
install -m 0644 systemd/promptyard.service "$DIST/$NAME/"
(cd "$DIST/$NAME" && sha256sum promptyard config.example.toml LICENSE README.md \
  promptyard.service >SHA256SUMS)
tar -C "$DIST" --owner=0 --group=0 --sort=name -czf "$DIST/$NAME.tar.gz" "$NAME"
(cd "$DIST" && sha256sum "$NAME.tar.gz" >"$NAME.tar.gz.sha256")
echo "packed $DIST/$NAME.tar.gz"

if command -v dpkg-deb >/dev/null; then
  packaging/deb/build-deb.sh "$BIN" "$VERSION" "$DIST"
fi

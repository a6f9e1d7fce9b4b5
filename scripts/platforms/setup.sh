#!/usr/bin/env bash
# The cross toolchain of npm run build:platforms and test:platforms, from the
# registries this project may reach; idempotent, so CI runs it on every clean
# clone. Downloads stay inside the clone (target/platforms); system packages
# come from Debian (as root): mingw-w64 (the Windows linker), qemu-user with
# the arm64 C and C++ runtimes (to run arm64 Linux programs), wine (to run
# the Windows build). Rust targets and llvm-tools (Mach-O inspection) come
# from rustup, zig and cargo-zigbuild from PyPI.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/platforms/cross-venv

rustup target add aarch64-unknown-linux-gnu x86_64-unknown-linux-musl aarch64-unknown-linux-musl \
  x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-gnu >/dev/null 2>&1
rustup component add llvm-tools >/dev/null 2>&1

if [ ! -x "$venv/bin/cargo-zigbuild" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check ziglang cargo-zigbuild
fi

need=()
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need+=(libc6-arm64-cross)
[ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || need+=(libstdc++6-arm64-cross)
[ -x /usr/lib/wine/wine64 ] || need+=(wine64)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "setup: apt-get install ${need[*]} needs root" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

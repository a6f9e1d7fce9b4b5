// The seven platforms ferro-nn ships prebuilt, in one table that the cross
// build (build.mjs), the packaging (scripts/package.mjs) and the platform
// tests (test.mjs) all read. `platform` is napi-rs's name, which the loader
// (native/index.cjs) computes at run time and the npm package is named by.
export const TARGETS = [
  {
    platform: 'linux-x64-gnu',
    triple: 'x86_64-unknown-linux-gnu',
    // zig links against glibc 2.17's symbols, so the binary loads on any glibc since 2013.
    zig: 'x86_64-unknown-linux-gnu.2.17',
    os: 'linux', cpu: 'x64', libc: 'glibc',
  },
  { platform: 'linux-arm64-gnu', triple: 'aarch64-unknown-linux-gnu', zig: 'aarch64-unknown-linux-gnu.2.17', os: 'linux', cpu: 'arm64', libc: 'glibc' },
  { platform: 'linux-x64-musl', triple: 'x86_64-unknown-linux-musl', zig: 'x86_64-unknown-linux-musl', os: 'linux', cpu: 'x64', libc: 'musl' },
  { platform: 'linux-arm64-musl', triple: 'aarch64-unknown-linux-musl', zig: 'aarch64-unknown-linux-musl', os: 'linux', cpu: 'arm64', libc: 'musl' },
  // Deployment targets: the oldest macOS each architecture's Node 20 runs on.
  { platform: 'darwin-x64', triple: 'x86_64-apple-darwin', zig: 'x86_64-apple-darwin', os: 'darwin', cpu: 'x64', macos: '10.15' },
  { platform: 'darwin-arm64', triple: 'aarch64-apple-darwin', zig: 'aarch64-apple-darwin', os: 'darwin', cpu: 'arm64', macos: '11.0' },
  // Built with Debian's MinGW-w64 (MSVC's CRT cannot be fetched here); with
  // napi's dyn-symbols it loads in any Node-API host, official node.exe included.
  { platform: 'win32-x64-gnu', triple: 'x86_64-pc-windows-gnu', os: 'win32', cpu: 'x64' },
];

/**
 * Where build:platforms leaves the release binaries, apart from native/
 * (the checkout's own build, which npm run build overwrites), so that a
 * package never ships a development build.
 */
export const releaseDir = (root) => `${root}target/platforms/release`;

/** The file name of the addon for `platform`, as napi-rs names it. */
export const binaryName = (platform) => `ferro-nn.${platform}.node`;

/** What cargo leaves in <target dir>/<triple>/release for the node crate. */
export const cargoOutput = (t) =>
  t.os === 'win32' ? 'ferro_nn_node.dll' : t.os === 'darwin' ? 'libferro_nn_node.dylib' : 'libferro_nn_node.so';

/** The platform of the running Node, named as the loader (native/index.cjs) names it. */
export function hostPlatform() {
  const { platform, arch } = process;
  if (platform === 'linux') return `linux-${arch}-${process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'}`;
  return platform === 'win32' ? `win32-${arch}-gnu` : `${platform}-${arch}`;
}

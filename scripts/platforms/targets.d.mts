/** One platform ferro-nn ships prebuilt (see targets.mjs). */
export interface Target {
  /** napi-rs's platform name, e.g. linux-x64-gnu; the npm package is ferro-nn-<platform>. */
  platform: string;
  /** The Rust target triple. */
  triple: string;
  /** The target cargo-zigbuild builds (with a glibc version suffix), when zig links it. */
  zig?: string;
  os: 'linux' | 'darwin' | 'win32';
  cpu: 'x64' | 'arm64';
  libc?: 'glibc' | 'musl';
  /** MACOSX_DEPLOYMENT_TARGET for the darwin builds. */
  macos?: string;
}
export const TARGETS: Target[];
export function binaryName(platform: string): string;
export function cargoOutput(t: Target): string;
/** The platform of the running Node, named as the loader names it. */
export function hostPlatform(): string;
/** Where build:platforms leaves the release binaries (root ends with '/'). */
export function releaseDir(root: string): string;

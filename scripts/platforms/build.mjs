// npm run build:platforms: the release addon for every target in
// targets.mjs, cross-built here, into target/platforms/release/ferro-nn.<platform>.node
// (where scripts/package.mjs finds them). Needs the toolchain of setup.sh, whose
// venv (zig, cargo-zigbuild) is put on PATH here. `-- <platform>…` builds
// only those.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGETS, binaryName, cargoOutput, releaseDir } from './targets.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const out = releaseDir(root);
const venv = join(root, 'target', 'platforms', 'cross-venv', 'bin');
const wanted = process.argv.slice(2);
const targets = wanted.length ? TARGETS.filter((t) => wanted.includes(t.platform)) : TARGETS;
if (targets.length !== (wanted.length || TARGETS.length)) throw new Error(`build:platforms: unknown platform in ${wanted.join(', ')}`);

mkdirSync(out, { recursive: true });
// A target directory of their own: `npm run build` (napi) builds the host's
// addon in target/x86_64-unknown-linux-gnu too, with another linker, and the
// two rebuilt each other's crates whenever they alternated (70 s for CI's
// test:interop after npm run package).
const cargoDir = join(root, 'target', 'platforms', 'cargo');
for (const t of targets) {
  const started = Date.now();
  const env = { ...process.env, PATH: `${venv}${delimiter}${process.env.PATH}`, CARGO_TARGET_DIR: cargoDir };
  const upper = t.triple.toUpperCase().replaceAll('-', '_');
  // A musl cdylib must link the C runtime dynamically (Rust's musl default is static).
  if (t.libc === 'musl') env[`CARGO_TARGET_${upper}_RUSTFLAGS`] = '-C target-feature=-crt-static';
  if (t.macos) {
    env.MACOSX_DEPLOYMENT_TARGET = t.macos;
    // The dylib's own name, instead of the path it was linked at here.
    env[`CARGO_TARGET_${upper}_RUSTFLAGS`] = `-C link-arg=-Wl,-install_name,@rpath/${binaryName(t.platform)}`;
    // rustc asks xcrun for the macOS SDK unless SDKROOT names one, and warns
    // when it cannot; zig links against its own macOS stubs, so an empty
    // directory stands in.
    env.SDKROOT = join(root, 'target', 'platforms', 'MacOSX.sdk');
    mkdirSync(env.SDKROOT, { recursive: true });
  }
  if (t.os === 'win32') env.LIBNODE_PATH = stubLibnode();
  const args = ['--release', '-p', 'ferro-nn-node', '--target', t.zig ?? t.triple];
  const [cmd, sub] = t.zig ? ['cargo-zigbuild', 'zigbuild'] : ['cargo', 'build'];
  const run = spawnSync(cmd, [sub, ...args], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });
  process.stderr.write(run.stderr);
  if (run.status !== 0) throw new Error(`build:platforms: ${t.platform} failed`);
  // Every target builds without a warning (clippy covers x86_64 and aarch64).
  if (/^warning/m.test(run.stderr)) throw new Error(`build:platforms: ${t.platform} built with warnings`);
  copyFileSync(join(cargoDir, t.triple, 'release', cargoOutput(t)), join(out, binaryName(t.platform)));
  console.log(`build:platforms: ${t.platform} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/**
 * napi's build script links windows-gnu builds against a libnode.dll. With
 * dyn-symbols on (crate/node/Cargo.toml) the addon imports nothing from it,
 * so an empty DLL satisfies the linker and the addon's import table names
 * no node binary (test:platforms checks that).
 */
function stubLibnode() {
  const dir = join(root, 'target', 'libnode-stub');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'empty.c'), '/* nothing: see scripts/platforms/build.mjs */\n');
  execFileSync('x86_64-w64-mingw32-gcc', ['-shared', '-o', join(dir, 'libnode.dll'), join(dir, 'empty.c')]);
  return dir;
}

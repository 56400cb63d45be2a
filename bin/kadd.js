#!/usr/bin/env node
// kadd entry point: loads the compiled CLI (npm ci runs the build through "prepare").
// With KADD_DEV=1 (or no build present) it falls back to the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'lib', 'cli', 'main.js');
let main;
try {
  let mainUrl;
  if (process.env.KADD_DEV !== '1' && existsSync(built)) {
    mainUrl = pathToFileURL(built).href;
  } else {
    const { register } = await import('tsx/esm/api');
    register();
    mainUrl = pathToFileURL(join(root, 'lib', 'cli', 'main.ts')).href;
  }
  ({ main } = await import(mainUrl));
} catch (e) {
  // main() maps every error itself; this is only for a broken install (no dist/ and no tsx, a stale build)
  if (process.argv.includes('--debug')) process.stderr.write(`${e?.stack ?? e}\n`);
  process.stderr.write(`error: kadd could not start: ${String(e?.message ?? e).split('\n')[0]}\nhint: run \`npm ci\` (or \`npm run build\`) in ${root}\n`);
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));

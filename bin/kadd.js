#!/usr/bin/env node
// kadd entry point: loads the compiled CLI (npm ci runs the build through "prepare").
// With KADD_DEV=1 (or no build present) it falls back to the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'lib', 'cli', 'main.js');
let mainUrl;
if (process.env.KADD_DEV !== '1' && existsSync(built)) {
  mainUrl = pathToFileURL(built).href;
} else {
  const { register } = await import('tsx/esm/api');
  register();
  mainUrl = pathToFileURL(join(root, 'lib', 'cli', 'main.ts')).href;
}
const { main } = await import(mainUrl);
process.exitCode = await main(process.argv.slice(2));

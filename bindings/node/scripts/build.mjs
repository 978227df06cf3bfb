#!/usr/bin/env node
// Builds the addon, then writes its loader (native.js) and its types
// (index.d.ts) with @napi-rs/cli's own generators.
//
//   node scripts/build.mjs             release: the addon and the `wasmudf` CLI,
//                                      in one cargo run (what demo.sh runs)
//   node scripts/build.mjs --debug     dev profile, in the feature resolution of
//                                      `cargo test --workspace` (what .ci/run runs
//                                      after the tests, so nothing compiles again)
//
// Why not `napi build`: it always passes `--target <host triple>`, which puts
// every artifact under target/<triple>/ and so compiles wasmtime and the rest
// of the dependency tree a second time; and building the addon alone
// (`-p wasmudf-node`) resolves features apart from the rest of the
// workspace, which does the same. cargo builds here in target/ as every
// other build does; napi-derive writes the type definitions it always
// writes when NAPI_TYPE_DEF_TMP_FOLDER is set, and the CLI's
// `generateTypeDef` and `writeJsBinding` turn them into the same files
// `napi build --platform --js native.js --dts index.d.ts` writes.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { generateTypeDef, parseTriple, writeJsBinding } from '@napi-rs/cli';

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = join(PKG, '..', '..');
const debug = process.argv.includes('--debug');
const profile = debug ? 'debug' : 'release';
const typeDefDir = join(ROOT, 'target', 'napi-rs', 'wasmudf-node-typedef', profile);
const config = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8'));

// A fresh folder, and a variable that makes cargo build the crate again
// (napi-build's build script watches it), so napi-derive writes the type
// definitions even when nothing else changed.
rmSync(typeDefDir, { recursive: true, force: true });
mkdirSync(typeDefDir, { recursive: true });
const args = debug
  ? ['build', '--workspace', '--lib', '--tests']
  : ['build', '--release', '-p', 'wasmudf-node', '-p', 'wasmudf-cli'];
const built = spawnSync('cargo', args, {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, NAPI_TYPE_DEF_TMP_FOLDER: typeDefDir, NAPI_FORCE_BUILD_WASMUDF_NODE: String(Date.now()) },
});
if (built.status !== 0) {
  console.error(`cargo ${args.join(' ')} failed`);
  process.exit(built.status ?? 1);
}

const triple = parseTriple(hostTriple());
const library = process.platform === 'darwin' ? 'libwasmudf_node.dylib' : process.platform === 'win32' ? 'wasmudf_node.dll' : 'libwasmudf_node.so';
const binary = `${config.napi.binaryName}.${triple.platformArchABI}.node`;
copyFileSync(join(ROOT, 'target', profile, library), join(PKG, binary));

// The crate compiles twice under --tests (the library, and its unit-test
// harness), each time appending the same definitions: keep each line once.
const defs = join(typeDefDir, 'wasmudf-node');
const lines = readFileSync(defs, 'utf8').split('\n').filter((line) => line.trim() !== '');
writeFileSync(defs, `${[...new Set(lines)].join('\n')}\n`);

const { exports, dts } = await generateTypeDef({
  typeDefDir,
  configDtsHeaderFile: config.napi.dtsHeaderFile,
  cwd: PKG,
  declareBindingTarget: true,
});
writeFileSync(join(PKG, 'index.d.ts'), dts);
await writeJsBinding({
  platform: true,
  idents: exports,
  jsBinding: 'native.js',
  binaryName: config.napi.binaryName,
  packageName: config.name,
  version: config.version,
  outputDir: PKG,
});
console.log(`wrote ${binary}, native.js and index.d.ts`);

/** The host's target triple, as rustc reports it. */
function hostTriple() {
  const out = spawnSync('rustc', ['-vV'], { encoding: 'utf8' });
  const host = out.stdout?.match(/^host: (\S+)$/m)?.[1];
  if (!host) throw new Error(`cannot read the host triple from rustc -vV: ${out.stderr}`);
  return host;
}

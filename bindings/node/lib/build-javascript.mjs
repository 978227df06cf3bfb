// Builds (or finds in the cache) the component for a JavaScript UDF module:
//   node build-javascript.mjs <sdk dir> <entry.js> <cache dir>
// Run by `db.loadJavaScript` in a child process, because componentize-js
// runs its snapshotting tool synchronously (which would block the caller's
// event loop for seconds) and loads a compiler's worth of modules.
//
// The entry is bundled with the SDK first (esbuild, a few milliseconds);
// the component is named by the SHA-256 of that bundle, the WIT and the
// pinned componentize-js version, so an edit to the module or anything it
// imports builds anew, and a second start finds the component in the
// cache. Prints one JSON line: {"path", "sha256", "built", "ms"}. Fails
// with the SDK's message on stderr and exit status 1.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

async function main() {
  const [sdkDir, entryArg, cacheDir] = process.argv.slice(2);
  if (cacheDir === undefined) throw new Error('usage: build-javascript.mjs <sdk dir> <entry.js> <cache dir>');
  const started = Date.now();
  const entry = resolve(entryArg);
  if (!existsSync(entry)) throw new Error(`${entryArg}: no such file`);
  const componentizeJs = join(sdkDir, 'node_modules', '@bytecodealliance', 'componentize-js', 'package.json');
  if (!existsSync(componentizeJs)) {
    throw new Error(
      `the JavaScript guest SDK in ${sdkDir} has no toolchain installed: run guests/setup-toolchains.sh ` +
        `(or npm ci in ${sdkDir}) once`,
    );
  }
  const sdk = await import(pathToFileURL(join(sdkDir, 'src', 'build.js')).href);
  const { code, map } = await sdk.bundle(entry);
  const hash = createHash('sha256');
  hash.update(`wasmudf-js-component 1\0componentize-js ${JSON.parse(readFileSync(componentizeJs, 'utf8')).version}\0`);
  hash.update(readFileSync(join(sdkDir, 'wit', 'udf.wit')));
  hash.update('\0');
  hash.update(code);
  const sha256 = hash.digest('hex');
  const path = join(cacheDir, `${sha256}.wasm`);
  if (existsSync(path)) {
    console.log(JSON.stringify({ path, sha256, built: false, ms: Date.now() - started }));
    return;
  }
  const { component } = await sdk.componentize({ code, map, entryName: entry });
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  // Written whole under another name, then renamed: a reader never sees half
  // a component, and two builds of the same module race harmlessly.
  const temp = join(cacheDir, `.${sha256}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, component, { flag: 'wx', mode: 0o600 });
    await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
  console.log(JSON.stringify({ path, sha256, built: true, ms: Date.now() - started }));
}

main().catch((e) => {
  process.stderr.write(`${e?.message ?? e}\n`);
  process.exit(1);
});

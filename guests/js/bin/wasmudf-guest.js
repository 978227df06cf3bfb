#!/usr/bin/env node
// wasmudf-guest build <entry.js> -o <out.wasm> [--aot] [--weval-bin <path>]
//
// Bundles the entry module with the SDK (esbuild) and turns the bundle into
// a wasmudf component (componentize-js) for the `udf` world of the WIT this
// package carries.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PKG_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WIT_DIR = join(PKG_DIR, 'wit');
const SDK_MODULES = {
  'wasmudf-guest': join(PKG_DIR, 'src', 'index.js'),
  'wasmudf-guest/component': join(PKG_DIR, 'src', 'component.js'),
  'wasmudf-guest/core': join(PKG_DIR, 'src', 'core.js'),
};

// The engine features a UDF component does without: an outgoing HTTP client
// and the incoming-HTTP event model, whose WASI imports a wasmudf host does
// not provide. stdio (console.*), clocks (Date.now, performance.now,
// setTimeout) and random (Math.random, crypto.getRandomValues) stay.
const DISABLED_FEATURES = ['http', 'fetch-event'];

const USAGE = `usage: wasmudf-guest build <entry.js> -o <out.wasm> [--aot] [--weval-bin <path>]

Bundles <entry.js> (which registers functions with scalar/aggregate/window
from 'wasmudf-guest') and builds a wasmudf component from it.

options:
  -o, --out <path>     the component to write (its folder is created)
  --aot                pre-compile with weval (needs the weval binary, which
                       @bytecodealliance/weval downloads from GitHub on first use)
  --weval-bin <path>   use this weval binary for --aot
  -h, --help           show this help`;

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = { entry: null, out: null, aot: false, wevalBin: null };
  const [command, ...rest] = argv;
  if (command === '-h' || command === '--help' || command === undefined) {
    return { help: true };
  }
  if (command !== 'build') throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const value = () => {
      if (i + 1 >= rest.length) throw new UsageError(`${a} needs a value`);
      return rest[++i];
    };
    if (a === '-o' || a === '--out') opts.out = value();
    else if (a.startsWith('--out=')) opts.out = a.slice(6);
    else if (a === '--aot') opts.aot = true;
    else if (a === '--weval-bin') opts.wevalBin = value();
    else if (a === '-h' || a === '--help') return { help: true };
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (opts.entry === null) opts.entry = a;
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (opts.entry === null) throw new UsageError('missing <entry.js>');
  if (opts.out === null) throw new UsageError('missing -o <out.wasm>');
  return opts;
}

/** An esbuild plugin resolving `wasmudf-guest` to this package's SDK. */
const sdkPlugin = {
  name: 'wasmudf-guest',
  setup(build) {
    build.onResolve({ filter: /^wasmudf-guest(\/.*)?$/ }, (args) => {
      const path = SDK_MODULES[args.path];
      if (path === undefined) {
        return { errors: [{ text: `wasmudf-guest has no module ${JSON.stringify(args.path)} (import from 'wasmudf-guest')` }] };
      }
      return { path };
    });
  },
};

/** Bundles the entry and the SDK into one ES module; returns its text. */
async function bundle(entry) {
  const esbuild = await import('esbuild');
  const contents =
    `import ${JSON.stringify(entry)};\n` +
    `export { guest } from 'wasmudf-guest/component';\n`;
  let result;
  try {
    result = await esbuild.build({
      stdin: { contents, resolveDir: dirname(entry), sourcefile: 'wasmudf-guest-entry.js', loader: 'js' },
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      target: 'es2022',
      charset: 'utf8',
      legalComments: 'none',
      logLevel: 'silent',
      plugins: [sdkPlugin],
    });
  } catch (e) {
    const lines = (e.errors ?? []).map((m) =>
      m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ${m.text}` : m.text,
    );
    throw new Error(`bundling ${entry} failed:\n  ${lines.join('\n  ') || e.message}`);
  }
  return result.outputFiles[0].text;
}

/** The weval binary for --aot, or a clear error when it cannot be had. */
async function findWeval(wevalBin) {
  if (wevalBin !== null) {
    if (!existsSync(wevalBin)) throw new Error(`--weval-bin ${wevalBin}: no such file`);
    return resolve(wevalBin);
  }
  let getWeval;
  try {
    ({ default: getWeval } = await import('@bytecodealliance/weval'));
  } catch (e) {
    throw new Error(`--aot: cannot load @bytecodealliance/weval (${e.message})`);
  }
  // getWeval downloads the binary from GitHub releases the first time and
  // calls process.exit(1) when the download answers with an error status:
  // turn both that and a network failure into an error.
  const exit = process.exit;
  const log = console.error;
  let printed = '';
  process.exit = (code) => {
    throw new Error(`exit ${code}`);
  };
  console.error = (...args) => {
    printed += args.join(' ') + '\n';
  };
  try {
    return await getWeval();
  } catch (e) {
    const cause = e.cause?.message ?? e.cause?.code ?? '';
    throw new Error(
      '--aot needs the weval binary, which @bytecodealliance/weval downloads from GitHub ' +
        'releases on first use, and that download failed' +
        (printed ? `:\n  ${printed.trim()}` : '') +
        `\n  (${e.message}${cause ? `: ${cause}` : ''})` +
        '\nBuild without --aot, or pass --weval-bin <path> to a weval 0.5.0 binary.',
    );
  } finally {
    process.exit = exit;
    console.error = log;
  }
}

/**
 * The functions a bundle registers, found by evaluating it in Node with its
 * console silenced: null when that fails (code that only runs inside the
 * component's engine), which is no reason to fail the build.
 */
async function listFunctions(dir, code) {
  const path = join(dir, 'manifest-probe.mjs');
  await writeFile(path, code);
  const saved = {};
  for (const k of ['log', 'info', 'warn', 'error', 'debug']) {
    saved[k] = console[k];
    console[k] = () => {};
  }
  try {
    const mod = await import(pathToFileURL(path).href);
    return mod.guest.manifest();
  } catch {
    return null;
  } finally {
    Object.assign(console, saved);
  }
}

function formatSize(bytes) {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

async function build(opts) {
  const started = Date.now();
  const entry = resolve(opts.entry);
  const out = resolve(opts.out);
  if (!existsSync(entry)) throw new Error(`${opts.entry}: no such file`);

  const code = await bundle(entry);
  const work = await mkdtemp(join(tmpdir(), 'wasmudf-guest-'));
  try {
    // Named after the entry so that error stacks name it.
    const name = basename(entry, extname(entry)) + '.js';
    const sourcePath = join(work, name);
    await writeFile(sourcePath, code);

    const wevalBin = opts.aot ? await findWeval(opts.wevalBin) : undefined;
    const { componentize } = await import('@bytecodealliance/componentize-js');
    let component;
    try {
      ({ component } = await componentize({
        sourcePath,
        witPath: WIT_DIR,
        worldName: 'udf',
        disableFeatures: DISABLED_FEATURES,
        enableAot: opts.aot,
        ...(wevalBin ? { wevalBin } : {}),
      }));
    } catch (e) {
      throw new Error(`componentize-js failed for ${opts.entry}:\n${e.message ?? e}`);
    }

    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, component);
    const functions = await listFunctions(work, code);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`wasmudf-guest: wrote ${opts.out} (${formatSize(component.length)}${opts.aot ? ', AOT' : ''}) in ${secs} s`);
    if (functions !== null) {
      for (const f of functions) {
        const flags = Object.entries(f.flags).filter(([, on]) => on).map(([k]) => k);
        const arity = f.arity === -1 ? '...' : String(f.arity);
        console.log(`  ${f.kind.padEnd(9)} ${f.name}(${arity})${flags.length ? '  ' + flags.join(' ') : ''}`);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`wasmudf-guest: ${e.message}\n\n${USAGE}`);
      process.exit(2);
    }
    throw e;
  }
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  try {
    await build(opts);
  } catch (e) {
    console.error(`wasmudf-guest: ${e.message}`);
    process.exit(1);
  }
}

await main();

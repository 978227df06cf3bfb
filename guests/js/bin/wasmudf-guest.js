#!/usr/bin/env node
// wasmudf-guest build <entry.js> -o <out.wasm> [--aot] [--weval-bin <path>]
//
// Bundles the entry module with the SDK (esbuild) and turns the bundle into
// a wasmudf component (componentize-js) for the `udf` world of the WIT this
// package carries.
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { bundle, componentize, findWeval, formatSize } from '../src/build.js';

const USAGE = `usage: wasmudf-guest build <entry.js> -o <out.wasm> [--aot] [--weval-bin <path>]

Bundles <entry.js> (which registers functions with scalar/aggregate/window/table
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
  if (command === '-h' || command === '--help') return { help: true };
  if (command === undefined) throw new UsageError('missing command');
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

async function build(opts) {
  const started = Date.now();
  const entry = resolve(opts.entry);
  const out = resolve(opts.out);
  if (!existsSync(entry)) throw new Error(`${opts.entry}: no such file`);

  const { code, map } = await bundle(entry);
  const wevalBin = opts.aot ? await findWeval(opts.wevalBin) : undefined;
  const { component, functions } = await componentize({ code, map, entryName: entry, wevalBin });
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, component);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`wasmudf-guest: wrote ${opts.out} (${formatSize(component.length)}${opts.aot ? ', AOT' : ''}) in ${secs} s`);
  if (functions !== null) {
    for (const f of functions) {
      const flags = Object.entries(f.flags).filter(([, on]) => on).map(([k]) => k);
      if (f.mergeable) flags.push('mergeable');
      // The declared types when there are some, else the arity.
      let args;
      if (f.params !== undefined && f.params !== null) {
        args = f.arity === -1 ? `${f.params[0]}...` : f.params.join(', ');
      } else {
        args = f.arity === -1 ? '...' : String(f.arity);
      }
      // A table function's rows: its columns.
      const returns =
        f.kind === 'table' && Array.isArray(f.columns)
          ? ` -> (${f.columns.join(', ')})`
          : f.returns !== undefined && f.returns !== null
            ? ` -> ${f.returns}`
            : '';
      console.log(`  ${f.kind.padEnd(9)} ${f.name}(${args})${returns}${flags.length ? '  ' + flags.join(' ') : ''}`);
    }
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

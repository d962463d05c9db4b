// Bundles the CLI with esbuild into dist/src/bundle/ (same depth as dist/src/cli/, so paths
// relative to the bundle stay valid).
//
// The CLI is one CommonJS file: an ES module entry makes Node start its ESM loader (~8 ms of
// internal modules compiled per command), CommonJS does not. Command modules stay lazy inside
// the file (esbuild wraps every dynamically imported module in an init function). Large
// packages one command alone uses are the exception: execa (`netctl exec`), yaml and
// cli-table3 are bundled apart (execa.cjs, yaml.cjs, cli-table3.cjs) and loaded on demand. bin/netctl compiles netctl.cjs with a V8 code cache; caches live
// beside it and this build removes them with the rest.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const out = 'dist/src/bundle';
rmSync(out, { recursive: true, force: true }); // no stale files
const version = JSON.parse(readFileSync('package.json', 'utf8')).version;
const APART_RE = /^(execa|yaml|cli-table3)$/;

await build({
  entryPoints: { netctl: 'src/cli/main.ts' },
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outdir: out,
  logLevel: 'warning',
  // Lazy imports become require() calls: bin/netctl runs the bundle as a vm.Script (to use a
  // code cache), where a real import() has no loader.
  supported: { 'dynamic-import': false },
  // The version is known at build time: no package.json read on the start-up path.
  define: { 'process.env.NETCTL_VERSION': JSON.stringify(version), 'import.meta.url': '__netctlUrl' },
  banner: { js: "const __netctlUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [{
    name: 'apart',
    setup(b) { b.onResolve({ filter: APART_RE }, (a) => ({ path: `./${a.path}.cjs`, external: true })); },
  }],
});

// Packages only one command uses, each bundled on its own and required when that command
// runs: yaml (export, apply: 260 KB), cli-table3 (graph). In the main bundle every command
// would pay for reading and compiling them.
for (const name of ['yaml', 'cli-table3']) {
  await build({
    stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: '.', loader: 'js' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    outfile: `${out}/${name}.cjs`,
    logLevel: 'warning',
  });
}

await build({
  stdin: { contents: "export { execa } from 'execa';", resolveDir: '.', loader: 'js' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outfile: `${out}/execa.cjs`,
  logLevel: 'warning',
});

// Bundles the CLI with esbuild into dist/src/bundle/ (same depth as dist/src/cli/, so paths
// relative to the bundle stay valid).
//
// The CLI is one CommonJS file: an ES module entry makes Node start its ESM loader (~8 ms of
// internal modules compiled per command), CommonJS does not. Command modules stay lazy inside
// the file (esbuild wraps every dynamically imported module in an init function). execa is the
// exception: it is large and used by `netctl exec` alone, so it is bundled apart as execa.cjs
// and loaded on demand. bin/netctl compiles netctl.cjs with a V8 code cache; caches live
// beside it and this build removes them with the rest.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const out = 'dist/src/bundle';
rmSync(out, { recursive: true, force: true }); // no stale files
const version = JSON.parse(readFileSync('package.json', 'utf8')).version;

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
    name: 'execa-apart',
    setup(b) { b.onResolve({ filter: /^execa$/ }, () => ({ path: './execa.cjs', external: true })); },
  }],
});

await build({
  stdin: { contents: "export { execa } from 'execa';", resolveDir: '.', loader: 'js' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outfile: `${out}/execa.cjs`,
  logLevel: 'warning',
});

// Bundles the CLI with esbuild into dist/src/bundle/ (same depth as dist/src/cli/, so paths
// relative to the bundle stay valid). Dependencies are bundled as published: nothing here
// rewrites a package's source.
//
// The CLI is one CommonJS file: an ES module entry makes Node start its ESM loader (~8 ms of
// internal modules per command), CommonJS does not. Command modules stay lazy inside the file
// (esbuild wraps every dynamically imported module in an init function). Large packages that
// one command alone uses are bundled apart and loaded on demand: execa (`netctl exec`), yaml
// (export, apply), cli-table3 (graph), chalk (an error on a terminal) and etcd3 (the commands
// that use the cluster store). V8 parses every byte of the main bundle on every command.
// Every file has a source map: a crash's stack is printed in src/*.ts lines (src/lib/stack.ts).
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

const out = 'dist/src/bundle';
rmSync(out, { recursive: true, force: true }); // no stale files
const version = JSON.parse(readFileSync('package.json', 'utf8')).version;
const APART_RE = /^(execa|yaml|cli-table3|chalk)$/;

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  sourcemap: 'linked',
  // The maps are for stacks: file and line, not the sources (which the package ships anyway).
  sourcesContent: false,
  // Lazy imports of the chunks bundled apart become require() calls: a real import() of a
  // CommonJS file would start the ESM loader.
  supported: { 'dynamic-import': false },
};

await build({
  ...common,
  entryPoints: { netctl: 'src/cli/main.ts' },
  outExtension: { '.js': '.cjs' },
  outdir: out,
  // The version is known at build time: no package.json read on the start-up path.
  // import.meta.url is computed when read (help files, completion scripts).
  define: { 'process.env.NETCTL_VERSION': JSON.stringify(version), 'import.meta.url': '__netctl.url' },
  banner: { js: "const __netctl = { get url() { return require('node:url').pathToFileURL(__filename).href; } };" },
  plugins: [
    {
      name: 'apart',
      setup(b) {
        b.onResolve({ filter: APART_RE }, (a) => ({ path: `./${a.path}.cjs`, external: true }));
        // src/overlay/etcd.ts loads etcd3 through this one module (see the etcd3 chunk below).
        b.onResolve({ filter: /^\.\/etcd3-lib\.js$/ }, () => ({ path: './etcd3.cjs', external: true }));
      },
    },
  ],
});

// The quick path of `ls` and `inspect` (src/cli/quick.ts), which the shim tries first: one
// file per command with only what it reads, so that V8 has a small file to compile.
for (const command of ['ls', 'inspect'])
  await build({
    ...common,
    entryPoints: { [`quick-${command}`]: `src/cli/quick-${command}.ts` },
    outExtension: { '.js': '.cjs' },
    outdir: out,
    define: { 'import.meta.url': '__netctl.url' },
    banner: { js: "const __netctl = { get url() { return require('node:url').pathToFileURL(__filename).href; } };" },
    plugins: [
      {
        name: 'apart',
        setup(b) {
          b.onResolve({ filter: APART_RE }, (a) => ({ path: `./${a.path}.cjs`, external: true }));
        },
      },
    ],
  });

// netctl's resolver, a process of its own (src/dns/daemon.ts): the DNS message library stays out of the CLI.
await build({
  ...common,
  entryPoints: { resolver: 'src/dns/daemon.ts' },
  outExtension: { '.js': '.cjs' },
  outdir: out,
  define: { 'import.meta.url': '__netctl.url' },
  banner: { js: "const __netctl = { get url() { return require('node:url').pathToFileURL(__filename).href; } };" },
});

for (const name of ['yaml', 'cli-table3', 'chalk']) {
  await build({
    ...common,
    stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: '.', loader: 'js' },
    outfile: `${out}/${name}.cjs`,
  });
}
await build({
  ...common,
  stdin: { contents: "export { execa } from 'execa';", resolveDir: '.', loader: 'js' },
  outfile: `${out}/execa.cjs`,
});

// etcd3 and gRPC. etcd3 reads its service definitions at load from `${__dirname}/../proto/`:
// bundled, __dirname is dist/src/bundle, so its .proto files go to dist/src/proto.
await build({ ...common, entryPoints: ['src/overlay/etcd3-lib.ts'], outfile: `${out}/etcd3.cjs`, keepNames: true });
const etcd3 = dirname(createRequire(import.meta.url).resolve('etcd3/package.json'));
rmSync('dist/src/proto', { recursive: true, force: true });
cpSync(join(etcd3, 'proto'), 'dist/src/proto', { recursive: true });

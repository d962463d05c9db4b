// Bundles the CLI with esbuild into dist/src/bundle/ (same depth as dist/src/cli/, so paths
// relative to the bundle stay valid).
//
// The CLI is one CommonJS file: an ES module entry makes Node start its ESM loader (~8 ms of
// internal modules compiled per command), CommonJS does not. Command modules stay lazy inside
// the file (esbuild wraps every dynamically imported module in an init function). Large
// packages one command alone uses are the exception: execa (`netctl exec`), yaml and
// cli-table3 are bundled apart (execa.cjs, yaml.cjs, cli-table3.cjs) and loaded on demand, and
// so is etcd3 (etcd3.cjs, for the commands that use the cluster store). bin/netctl compiles
// netctl.cjs with a V8 code cache; caches live beside it and this build removes them with the
// rest.
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Script } from 'node:vm';
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
  // No comments and no indentation: the source V8 is given is a third smaller, and pure ASCII
  // (a comment's "§" made the whole 527 KB a two-byte string), so reading, decoding and
  // checking it against the code cache cost less on every command. Names are kept for stacks.
  minifyWhitespace: true,
  charset: 'ascii',
  // Lazy imports become require() calls: bin/netctl runs the bundle as a vm.Script (to use a
  // code cache), where a real import() has no loader.
  supported: { 'dynamic-import': false },
  // The version is known at build time: no package.json read on the start-up path.
  // import.meta.url is computed when read (help files, completion scripts): making a URL at
  // load cost every command ~0.4 ms.
  define: { 'process.env.NETCTL_VERSION': JSON.stringify(version), 'import.meta.url': '__netctl.url' },
  banner: { js: "const __netctl = { get url() { return require('node:url').pathToFileURL(__filename).href; } };" },
  plugins: [{
    name: 'apart',
    setup(b) {
      b.onResolve({ filter: APART_RE }, (a) => ({ path: `./${a.path}.cjs`, external: true }));
      // src/cluster/etcd.ts loads etcd3 through this one module (see the etcd3 chunk below).
      b.onResolve({ filter: /^\.\/etcd3-lib\.js$/ }, () => ({ path: './etcd3.cjs', external: true }));
      // commander requires child_process at load for executable subcommands, which netctl
      // has none of: loading it on first use keeps ~3.5 ms off the commands that spawn nothing.
      b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (a) => {
        const text = readFileSync(a.path, 'utf8');
        const eager = "const childProcess = require('node:child_process');";
        if (!text.includes(eager)) throw new Error(`commander changed: no "${eager}" in ${a.path}`);
        return { contents: text.replace(eager, "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };"), loader: 'js' };
      });
    },
  }],
});

// bin/netctl runs the bundle as the body of a function compiled with vm.Script (for the code
// cache): the file holds that function already, so V8 is given the text as read, not a copy
// with the wrapper put around it (~0.4 ms a command).
const main = `${out}/netctl.cjs`;
writeFileSync(main, `(function (exports, require, module, __filename, __dirname) {${readFileSync(main, 'latin1')}\n})`, 'latin1');

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

// etcd3 (gRPC, protobuf, cockatiel: ~100 ms to load unbundled) for the cluster-store commands,
// as etcd3.body.cjs behind etcd3.cjs, scripts/code-cache-stub.cjs, which compiles it with a
// V8 code cache. Minified (names kept: etcd3 names its errors after their classes). etcd3
// parses proto/rpc.proto at load (`loadSync(`${__dirname}/../proto/rpc.proto`)`), a path the
// bundle does not have and ~25 ms of parsing: the plugin below parses it here instead and
// gives proto-loader the result as JSON (its `fromJSON`), so nothing is read at run time and
// no .proto file is shipped.
// The eager forms in @grpc/proto-loader 0.7 and what replaces them (see the plugin below).
const PROTO_LOADER_LAZY = [
  // protobufjs/ext/descriptor builds descriptor.proto's types when loaded (~25 ms) and gives
  // the reflection classes their toDescriptor: loaded by the first description.
  ['const descriptor = require("protobufjs/ext/descriptor");',
    'let descriptorLoaded;\nconst descriptorExt = () => (descriptorLoaded ??= require("protobufjs/ext/descriptor"));'],
  ['descriptor.FileDescriptorSet.decode(', 'descriptorExt().FileDescriptorSet.decode('],
  ['descriptor.FileDescriptorSet.fromObject(', 'descriptorExt().FileDescriptorSet.fromObject('],
  [`    const descriptorList = root.toDescriptor('proto3').file;
    const bufferList = descriptorList.map(value => Buffer.from(descriptor.FileDescriptorProto.encode(value).finish()));`,
  `    let files;
    const bufferList = () => (files ??= (descriptorExt(), root.toDescriptor('proto3').file.map(value => Buffer.from(descriptorExt().FileDescriptorProto.encode(value).finish()))));`],
  [`function createMessageDefinition(message, fileDescriptors) {
    const messageDescriptor = message.toDescriptor('proto3');
    return {
        format: 'Protocol Buffer 3 DescriptorProto',
        type: messageDescriptor.$type.toObject(messageDescriptor, descriptorOptions),
        fileDescriptorProtos: fileDescriptors,
    };
}`,
  `function createMessageDefinition(message, fileDescriptors) {
    return describedWhenRead('Protocol Buffer 3 DescriptorProto', message, fileDescriptors);
}
function describedWhenRead(format, reflected, files) {
    let type;
    return {
        format,
        get type() {
            if (type === undefined) { descriptorExt(); const d = reflected.toDescriptor('proto3'); type = d.$type.toObject(d, descriptorOptions); }
            return type;
        },
        get fileDescriptorProtos() { return files(); },
    };
}`],
  [`function createEnumDefinition(enumType, fileDescriptors) {
    const enumDescriptor = enumType.toDescriptor('proto3');
    return {
        format: 'Protocol Buffer 3 EnumDescriptorProto',
        type: enumDescriptor.$type.toObject(enumDescriptor, descriptorOptions),
        fileDescriptorProtos: fileDescriptors,
    };
}`,
  `function createEnumDefinition(enumType, fileDescriptors) {
    return describedWhenRead('Protocol Buffer 3 EnumDescriptorProto', enumType, fileDescriptors);
}`],
];

const req = createRequire(import.meta.url);
const etcdProtoLoader = createRequire(req.resolve('etcd3')).resolve('@grpc/proto-loader');
const protobuf = createRequire(req.resolve('@grpc/proto-loader'))('protobufjs'); // proto-loader's own copy
/** etcd3's proto-loader with PROTO_LOADER_LAZY applied; the build fails if it changed. */
function lazyProtoLoader() {
  let text = readFileSync(etcdProtoLoader, 'utf8');
  for (const [from, to] of PROTO_LOADER_LAZY) {
    if (!text.includes(from)) throw new Error(`${etcdProtoLoader} changed: no ${JSON.stringify(from.slice(0, 60))}`);
    text = text.replace(from, to);
  }
  return text;
}

/** Each build holds the lazy proto-loader to the eager one on rpc.proto: every description, once read, the same. */
function checkLazyProtoLoader(json) {
  const lazy = { exports: {} };
  new Script(`(function (exports, require, module, __filename, __dirname) {${lazyProtoLoader()}\n})`, { filename: etcdProtoLoader })
    .runInThisContext()(lazy.exports, createRequire(etcdProtoLoader), lazy, etcdProtoLoader, dirname(etcdProtoLoader));
  const opts = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }; // etcd3's
  const described = (d) => ({ format: d.format, type: d.type, files: d.fileDescriptorProtos.map((b) => b.toString('base64')) });
  const readAll = (pkg) => Object.fromEntries(Object.entries(pkg).map(([name, def]) => [name, 'format' in def ? described(def)
    : Object.fromEntries(Object.entries(def).map(([m, x]) => [m, { path: x.path, originalName: x.originalName, options: x.options, request: described(x.requestType), response: described(x.responseType) }]))]));
  // The lazy one first: the eager one's load would give protobufjs its toDescriptor for both.
  const got = readAll(lazy.exports.fromJSON(JSON.parse(json), opts));
  const eager = readAll(createRequire(etcdProtoLoader)(etcdProtoLoader).fromJSON(JSON.parse(json), opts));
  if (Object.keys(eager).length < 10 || !isDeepStrictEqual(eager, got)) throw new Error('the lazy proto-loader describes rpc.proto differently from the eager one');
}

const rpcProto = join(dirname(req.resolve('etcd3/package.json')), 'proto/rpc.proto');
// keepCase is a parse option: the same one etcd3 passes to loadSync.
const rpcJson = JSON.stringify(new protobuf.Root().loadSync(rpcProto, { keepCase: true }).toJSON());
checkLazyProtoLoader(rpcJson);
const LOAD_RE = /\(0, proto_loader_1\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`,/g;
await build({
  entryPoints: ['src/cluster/etcd3-lib.ts'],
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outfile: `${out}/etcd3.body.cjs`,
  minify: true,
  keepNames: true,
  logLevel: 'warning',
  plugins: [{
    name: 'etcd3-protos',
    setup(b) {
      b.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (a) => {
        const text = readFileSync(a.path, 'utf8');
        const n = text.match(LOAD_RE)?.length ?? 0;
        // A new etcd3 that loads its protos differently must fail the build, not the run.
        if (n !== 1) throw new Error(`${a.path}: expected one loadSync of rpc.proto, found ${n}`);
        return { contents: text.replace(LOAD_RE, `(0, proto_loader_1.fromJSON)(${rpcJson},`), loader: 'js' };
      });
      // proto-loader describes every message and enum of rpc.proto (toDescriptor, toObject) and
      // encodes the whole file set when it makes the package: ~100 ms of each etcd3 load, for
      // reflection data the gRPC client never reads. Here each is computed when first read.
      b.onLoad({ filter: /[\\/]@grpc[\\/]proto-loader[\\/]build[\\/]src[\\/]index\.js$/ }, (a) => {
        if (a.path !== etcdProtoLoader) return undefined; // grpc-js's own copy: not on etcd3's path
        return { contents: lazyProtoLoader(), loader: 'js' };
      });
    },
  }],
});
copyFileSync('scripts/code-cache-stub.cjs', `${out}/etcd3.cjs`);

// Copied by scripts/build.mjs as dist/src/bundle/NAME.cjs for a chunk bundled apart as
// NAME.body.cjs: requiring NAME.cjs compiles the body with a V8 code cache, as bin/netctl does
// for the main bundle (for etcd3 ~25 ms of compiling saved). The cache is written at the exit
// of the first successful run, named after the body's size and mtime so a rebuilt body never
// meets a stale one (the build empties the directory). Plain CommonJS: it runs unbundled.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const body = path.join(__dirname, `${path.basename(__filename, '.cjs')}.body.cjs`);

function load() {
  // A cache is only valid for the V8 flags it was made with (bin/netctl's rule).
  if (process.env.NETCTL_NO_CODE_CACHE || process.execArgv.length) return require(body);
  const vm = require('node:vm');
  const source = fs.readFileSync(body, 'utf8');
  const st = fs.statSync(body);
  const cacheFile = `${body}.${st.size}-${Math.trunc(st.mtimeMs)}.cache`;
  let cachedData;
  try { cachedData = fs.readFileSync(cacheFile); } catch { /* first run */ }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: body, cachedData,
  });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, require('node:module').createRequire(body), mod, body, __dirname);
  if (!cachedData || script.cachedDataRejected) {
    process.once('exit', (code) => {
      if (code !== 0) return;
      const tmp = `${cacheFile}.${process.pid}`;
      try {
        fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o644 });
        fs.renameSync(tmp, cacheFile);
      } catch { // read-only install or not ours to write: run without a cache
        try { fs.unlinkSync(tmp); } catch { /* never created */ }
      }
    });
  }
  return mod.exports;
}
module.exports = load();

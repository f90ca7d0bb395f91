// A stand-in for a WASI edge runtime: runs the auditlog-edge module under Node's built-in WASI
// (node:wasi, preview1), with this process's stdin, stdout and stderr.
//
//   node functions/edge/host/run.mjs path/to/auditlog-edge.wasm [--repeat N] < envelope.json
//
// Only AUDITLOG_* environment variables reach the module (its limits and masking settings);
// nothing else of the host does: no preopened directories, no other variables.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';

const [modulePath, ...args] = process.argv.slice(2);
if (!modulePath) {
  process.stderr.write('usage: run.mjs <module.wasm> [--repeat N] < envelope.json\n');
  process.exit(2);
}
const env = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => name.startsWith('AUDITLOG_')),
);
const wasi = new WASI({
  version: 'preview1',
  args: ['auditlog-edge', ...args],
  env,
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(modulePath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);

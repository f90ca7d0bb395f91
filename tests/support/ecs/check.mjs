// Checks ECS documents against Elastic's published field definitions (npm `@elastic/ecs`,
// `EcsFlat`: every field's flat name, type, whether it is an array, and allowed values).
//
//   node tests/support/ecs/check.mjs < documents.ndjson
//
// Every leaf must be an ECS field (or under `labels.`, or in a custom namespace named with
// `--custom NAME`, whose contents ECS leaves to us), of the field's type; fields ECS normalizes
// to arrays must be arrays; categorization fields must hold allowed values, and each
// `event.type` must be one that some `event.category` of the document expects. Prints one JSON
// line per invalid document, then `{"checked", "invalid"}`; exits 1 when any is invalid.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const { EcsFlat, EcsVersion } = require('@elastic/ecs');

const custom = [];
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--custom') custom.push(process.argv[++i]);
}

const isDate = (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)) && /^\d{4}-\d{2}-\d{2}T/.test(v);
const isIp = (v) => typeof v === 'string' && (/^(\d{1,3}\.){3}\d{1,3}$/.test(v) || (v.includes(':') && /^[0-9a-fA-F:.]+$/.test(v)));
const typeOk = {
  keyword: (v) => typeof v === 'string',
  constant_keyword: (v) => typeof v === 'string',
  wildcard: (v) => typeof v === 'string',
  match_only_text: (v) => typeof v === 'string',
  text: (v) => typeof v === 'string',
  date: isDate,
  ip: isIp,
  long: (v) => Number.isInteger(v),
  integer: (v) => Number.isInteger(v),
  unsigned_long: (v) => Number.isInteger(v) && v >= 0,
  float: (v) => typeof v === 'number',
  scaled_float: (v) => typeof v === 'number',
  boolean: (v) => typeof v === 'boolean',
  object: (v) => typeof v === 'object',
  flattened: (v) => typeof v === 'object',
  nested: (v) => typeof v === 'object',
};

function check(doc) {
  const errors = [];
  const walk = (value, path) => {
    const name = path.join('.');
    const field = EcsFlat[name];
    if (custom.includes(path[0]) || path[0] === 'labels') return;
    if (field) {
      const values = Array.isArray(value) ? value : [value];
      if ((field.normalize || []).includes('array') && !Array.isArray(value)) {
        errors.push(`${name}: ECS keeps it as an array`);
      }
      const ok = typeOk[field.type];
      if (!ok) errors.push(`${name}: type ${field.type} is not checked here`);
      for (const v of values) {
        if (ok && !ok(v)) errors.push(`${name}: ${JSON.stringify(v)} is not of type ${field.type}`);
        if (field.allowed_values && !field.allowed_values.some((a) => a.name === v)) {
          errors.push(`${name}: ${JSON.stringify(v)} is not an allowed value`);
        }
      }
      return;
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
      return;
    }
    errors.push(`${name}: not an ECS ${EcsVersion} field`);
  };
  walk(doc, []);
  const categories = doc.event?.category || [];
  const expected = new Set(
    EcsFlat['event.category'].allowed_values
      .filter((a) => categories.includes(a.name))
      .flatMap((a) => a.expected_event_types || []),
  );
  for (const t of doc.event?.type || []) {
    if (!expected.has(t)) errors.push(`event.type: ${t} is not expected for category ${categories}`);
  }
  if (doc.ecs?.version !== EcsVersion) errors.push(`ecs.version: ${doc.ecs?.version}, the definitions are ${EcsVersion}`);
  return errors;
}

let checked = 0;
let invalid = 0;
let line = 0;
for await (const text of createInterface({ input: process.stdin })) {
  line++;
  if (!text.trim()) continue;
  checked++;
  const errors = check(JSON.parse(text));
  if (errors.length) {
    invalid++;
    console.log(JSON.stringify({ line, errors: errors.slice(0, 20) }));
  }
}
console.log(JSON.stringify({ checked, invalid }));
process.exitCode = invalid ? 1 : 0;

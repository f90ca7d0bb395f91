// Helpers of scripts/bench-edge.sh (Node 20, no packages):
//
//   node scripts/bench-edge.mjs body            a 500-event batch from the fixtures, no ids
//   node scripts/bench-edge.mjs stub PORT       an origin that answers every POST with 201 at once
//   node scripts/bench-edge.mjs load URL KEY BODY REQUESTS LABEL
//                                               POSTs BODY to URL/v1/events REQUESTS times, one
//                                               at a time on a kept-alive connection; prints
//                                               events/s and the latency quantiles
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'body') {
  const dir = 'tests/fixtures';
  const events = [];
  for (const f of ['valid/full.json', 'valid/set-password.json', 'mapped/logger-record.json']) {
    events.push(JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')));
  }
  for (const f of readdirSync(`${dir}/mapped`).filter((f) => f.endsWith('.ndjson'))) {
    for (const line of readFileSync(`${dir}/mapped/${f}`, 'utf8').split('\n').filter(Boolean)) {
      events.push(JSON.parse(line));
    }
  }
  // No ids: each request stores new events (a duplicate is cheaper than a write).
  const batch = Array.from({ length: 500 }, (_, i) => {
    const { id, ...event } = events[i % events.length];
    return event;
  });
  process.stdout.write(JSON.stringify({ events: batch }));
} else if (mode === 'stub') {
  const answer = JSON.stringify({ request_id: 'stub', accepted: 0, duplicate: 0, rejected: 0, failed: 0, redacted: 0, items: [] });
  http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(answer);
    });
  }).listen(Number(args[0]), '127.0.0.1');
} else if (mode === 'load') {
  const [url, key, bodyPath, requests, label] = args;
  const body = readFileSync(bodyPath);
  const events = JSON.parse(body).events.length;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const post = () => new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/events`, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'content-length': body.length },
    }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
  await post(); // warm-up: connection, and the host's first compile
  const times = [];
  const started = process.hrtime.bigint();
  for (let i = 0; i < Number(requests); i++) {
    const t = process.hrtime.bigint();
    await post();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(1);
  console.log(JSON.stringify({
    label, requests: Number(requests), events_per_request: events,
    events_per_second: Math.round((events * Number(requests)) / seconds),
    ms_p50: q(0.5), ms_p99: q(0.99),
  }));
  agent.destroy();
} else {
  console.error('usage: bench-edge.mjs body | stub PORT | load URL KEY BODY REQUESTS LABEL');
  process.exit(2);
}

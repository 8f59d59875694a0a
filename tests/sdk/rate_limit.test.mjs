// The official Telnyx Node SDK's own retry logic against ringkv's injected
// rate limits: a 429 carries Retry-After (whole seconds) and the
// x-ratelimit-* headers, and the SDK waits that long and retries on its
// own; with retries off it surfaces the 429 as its RateLimitError.
// Usage: RINGKV_BINARY=build/src/ringkv node --test rate_limit.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import Telnyx from 'telnyx';

let server;
let origin;

before(async () => {
  const binary = process.env.RINGKV_BINARY ?? '../../build/src/ringkv';
  server = spawn(binary, ['--port', '0', '--threads', '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let line = '';
  while (!line.includes('\n')) {
    const [chunk] = await once(server.stdout, 'data');
    line += chunk.toString();
  }
  origin = `http://127.0.0.1:${line.match(/:(\d+) \(/)[1]}`;
  // Two requests per second for this token, at most two at once.
  const rules = [{ name: 'sdk-limit', match: { token: 'sdk-limited' },
                   rate_limit: { requests: 2, per_ms: 1000, burst: 2 } }];
  const put = await fetch(`${origin}/_ringkv/rules`, { method: 'PUT', body: JSON.stringify(rules) });
  assert.equal(put.status, 200);
});

after(async () => {
  server.kill('SIGTERM');
  const [code] = await once(server, 'exit');
  assert.equal(code, 0, 'ringkv exits 0 on SIGTERM');
});

async function limitedCount() {
  const listed = await (await fetch(`${origin}/_ringkv/rules`)).json();
  return listed.data[0].counters.rate_limited;
}

test('the SDK retries a 429 after Retry-After and succeeds', async () => {
  const client = new Telnyx({ apiKey: 'sdk-limited', baseURL: `${origin}/v2`, maxRetries: 2 });
  const before429 = await limitedCount();
  const started = Date.now();
  for (let i = 0; i < 3; i++) {
    const page = await client.storage.kvs.list();
    assert.equal(page.meta.total_results, 0);
  }
  const waited = Date.now() - started;
  assert.ok(await limitedCount() > before429, 'the third request met the limit');
  assert.ok(waited >= 900, `the SDK waited out Retry-After (${waited} ms)`);
});

test('with retries off the SDK reports the 429 as RateLimitError with the headers', async () => {
  const client = new Telnyx({ apiKey: 'sdk-limited', baseURL: `${origin}/v2`, maxRetries: 0 });
  let error;
  for (let i = 0; i < 4 && !error; i++) {
    try {
      await client.storage.kvs.list();
    } catch (e) {
      error = e;
    }
  }
  assert.ok(error, 'the burst ran out');
  assert.equal(error.status, 429);
  assert.equal(error.constructor.name, 'RateLimitError');
  assert.equal(error.headers.get('retry-after'), '1');
  assert.equal(error.headers.get('x-ratelimit-limit'), '2');
  assert.equal(error.headers.get('x-ratelimit-remaining'), '0');
  assert.ok(Number(error.headers.get('x-ratelimit-reset')) >= 1);
  assert.equal(error.error.errors[0].code, '10011');
});

test('another token is not limited and gets no rate-limit headers', async () => {
  const response = await fetch(`${origin}/v2/storage/kvs`, { headers: { Authorization: 'Bearer sdk-free' } });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('x-ratelimit-limit'), null);
});

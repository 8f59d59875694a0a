// The official Telnyx Node SDK, unchanged, against the real ringkv binary:
// every KV operation it has, including auto-pagination of both listings.
// Usage: RINGKV_BINARY=build/src/ringkv node --test conformance.test.mjs
//        (starts its own server on a free port, stops it at the end), or
//        RINGKV_URL=http://HOST:PORT[/v2] node --test conformance.test.mjs
//        (an existing server or a proxy in front of several; the run uses a
//        fresh organization, RINGKV_TOKEN or a random token, and deletes the
//        namespaces it made).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import Telnyx from 'telnyx';

let server;
let client;

// The SDK's base URL: RINGKV_URL with /v2 added when it names no path.
function base_url(url) {
  const parsed = new URL(url);
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/v2';
  return parsed.toString().replace(/\/$/, '');
}

async function start_server() {
  const binary = process.env.RINGKV_BINARY ?? '../../build/src/ringkv';
  server = spawn(binary, ['--port', '0', '--threads', '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let line = '';
  while (!line.includes('\n')) {
    const [chunk] = await once(server.stdout, 'data');
    line += chunk.toString();
  }
  return `http://127.0.0.1:${line.match(/:(\d+) \(/)[1]}/v2`;
}

before(async () => {
  const existing = process.env.RINGKV_URL;
  const baseURL = existing ? base_url(existing) : await start_server();
  // Against a shared server the listing checks need an organization of
  // their own: a new token per run.
  const apiKey = process.env.RINGKV_TOKEN ?? (existing ? `sdk-${randomBytes(8).toString('hex')}` : 'sdk-conformance');
  client = new Telnyx({ apiKey, baseURL, maxRetries: 0 });
});

after(async () => {
  if (!server) {
    // Leave the server as it was: delete what this run created (listed
    // first, since a deletion shifts the pages after it).
    const ids = [];
    for await (const ns of client.storage.kvs.list({ 'page[size]': 250 })) {
      if (ns.status !== 'deleting') ids.push(ns.id);
    }
    for (const id of ids) await client.storage.kvs.delete(id);
    const left = await client.storage.kvs.list();
    assert.equal(left.meta.total_results, 0, 'the run leaves no namespace behind');
    return;
  }
  server.kill('SIGTERM');
  const [code] = await once(server, 'exit');
  assert.equal(code, 0, 'ringkv exits 0 on SIGTERM');
});

test('namespaces: create, retrieve, list with auto-pagination, delete', async () => {
  const created = await client.storage.kvs.create({ name: 'sdk-main' });
  assert.equal(created.data.record_type, 'storage_kv');
  assert.equal(created.data.name, 'sdk-main');
  assert.equal(created.data.status, 'pending');
  assert.match(created.data.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  const retrieved = await client.storage.kvs.retrieve(created.data.id);
  assert.equal(retrieved.data.status, 'provision_ok');
  assert.equal(retrieved.data.created_at, created.data.created_at);

  const names = [];
  for (let i = 0; i < 24; i++) names.push((await client.storage.kvs.create({ name: `sdk-page-${i}` })).data.name);
  const listed = [];
  for await (const ns of client.storage.kvs.list({ 'page[size]': 7 })) listed.push(ns.name);
  assert.deepEqual(listed, ['sdk-main', ...names], 'every namespace once, in creation order, over 4 pages');

  const deleted = await client.storage.kvs.delete(created.data.id);
  assert.equal(deleted.data.status, 'deleting');
  await assert.rejects(client.storage.kvs.retrieve(created.data.id), (error) => error.status === 404);
  await assert.rejects(client.storage.kvs.create({ name: 'Bad Name' }), (error) => error.status === 422);
});

test('keys: update text and binary, ttl_secs, retrieve, delete', async () => {
  const { data: ns } = await client.storage.kvs.create({ name: 'sdk-keys' });
  const id = ns.id;

  await client.storage.kvs.keys.update('greeting', 'hello, world', { id });
  let response = await client.storage.kvs.keys.retrieve('greeting', { id });
  assert.equal(await response.text(), 'hello, world');
  assert.equal(response.headers.get('content-type'), 'application/octet-stream');

  const every_byte = new Uint8Array(256).map((_, i) => i);
  await client.storage.kvs.keys.update('user/binary', every_byte, { id });
  response = await client.storage.kvs.keys.retrieve('user/binary', { id });
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), every_byte);

  await client.storage.kvs.keys.update('user/binary', 'replaced', { id });
  assert.equal(await (await client.storage.kvs.keys.retrieve('user/binary', { id })).text(), 'replaced');

  await client.storage.kvs.keys.update('short-lived', 'soon gone', { id, ttl_secs: 1 });
  assert.equal(await (await client.storage.kvs.keys.retrieve('short-lived', { id })).text(), 'soon gone');
  await new Promise((resolve) => setTimeout(resolve, 1200));
  await assert.rejects(client.storage.kvs.keys.retrieve('short-lived', { id }), (error) => error.status === 404);

  await client.storage.kvs.keys.delete('greeting', { id });
  await client.storage.kvs.keys.delete('greeting', { id });  // idempotent
  await assert.rejects(client.storage.kvs.keys.retrieve('greeting', { id }), (error) => error.status === 404);
  await assert.rejects(client.storage.kvs.keys.update('_reserved', 'x', { id }), (error) => error.status === 400);
  await assert.rejects(client.storage.kvs.keys.update('k', 'x', { id, ttl_secs: 0 }), (error) => error.status === 422);
});

test('keys: list with prefix and auto-pagination past 1,000 keys', async () => {
  const { data: ns } = await client.storage.kvs.create({ name: 'sdk-listing' });
  const id = ns.id;
  const expected = [];
  const writes = [];
  for (let i = 0; i < 1500; i++) {
    const key = `batch/${String(i).padStart(5, '0')}`;
    expected.push(key);
    writes.push(client.storage.kvs.keys.update(key, `value ${i}`, { id }));
    if (writes.length === 100) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
  await client.storage.kvs.keys.update('elsewhere', 'x', { id });

  const seen = [];
  for await (const entry of client.storage.kvs.keys.list(id, { prefix: 'batch/' })) {
    seen.push(entry.key);
    assert.equal(entry.size_bytes, `value ${Number(entry.key.slice(6))}`.length);
    assert.match(entry.updated_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  }
  assert.deepEqual(seen, expected, 'each key once, byte-wise ascending, across pages and cores');

  const firstPage = await client.storage.kvs.keys.list(id, { prefix: 'batch/', limit: 10 });
  assert.equal(firstPage.data.length, 10);
  assert.equal(firstPage.meta.has_more, true);
  const all = [];
  for await (const entry of client.storage.kvs.keys.list(id, { limit: 333 })) all.push(entry.key);
  assert.equal(all.length, 1501);
});

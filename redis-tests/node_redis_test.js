// Compatibility test through node-redis 6 (npm "redis", pinned in
// package-lock.json) with its defaults: it opens with HELLO 3 and speaks
// RESP3 from then on.
// Usage: node node_redis_test.js HOST PORT
// Exits 0 when every check passes, 1 on the first mismatch (with a message).
'use strict';

const assert = require('node:assert/strict');
const { createClient } = require('redis');

const [host, portText] = process.argv.slice(2);
if (!host || !portText) {
  console.error('usage: node node_redis_test.js HOST PORT');
  process.exit(2);
}

// Hard deadline for the whole run: never hang a ctest. Without RESP3,
// connect() would never resolve (the client reconnects forever).
const watchdog = setTimeout(() => {
  console.error('node_redis_test: timed out');
  process.exit(1);
}, 60000);
watchdog.unref();

async function expectError(promise, message) {
  try {
    const v = await promise;
    assert.fail('expected error ' + JSON.stringify(message) + ', got ' + JSON.stringify(v));
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.equal(e.message, message);
  }
}

async function main() {
  const client = createClient({
    socket: { host, port: Number(portText), reconnectStrategy: false },
    name: 'node-redis-test',
  });
  const errors = [];
  client.on('error', (e) => errors.push(e));
  await client.connect();

  // The handshake: HELLO 3 with SETNAME, then CLIENT SETINFO.
  const info = await client.sendCommand(['CLIENT', 'INFO']);
  assert.match(String(info), / name=node-redis-test /);
  assert.match(String(info), / resp=3\n$/);
  assert.match(String(info), / cmd=client\|info /);
  const hello = await client.sendCommand(['HELLO', '3']);
  assert.equal(hello.proto, 3);
  assert.equal(hello.server, 'redis');

  // Everyday commands.
  assert.equal(await client.set('nr:k', 'v'), 'OK');
  assert.equal(await client.get('nr:k'), 'v');
  assert.equal(await client.get('nr:missing'), null);  // RESP3 null "_"
  assert.equal(await client.incr('nr:n'), 1);
  assert.equal(await client.incrBy('nr:n', 41), 42);
  assert.equal(await client.get('nr:n'), '42');
  assert.deepEqual(await client.mGet(['nr:k', 'nr:missing', 'nr:n']), ['v', null, '42']);
  assert.equal(await client.expire('nr:k', 100), 1);
  const ttl = await client.ttl('nr:k');
  assert.ok(ttl > 0 && ttl <= 100, 'ttl ' + ttl);
  assert.equal(await client.ttl('nr:n'), -1);
  assert.equal(await client.exists(['nr:k', 'nr:n', 'nr:missing']), 2);
  assert.equal(await client.del(['nr:k', 'nr:n', 'nr:missing']), 2);
  assert.equal(await client.get('nr:k'), null);
  assert.equal(await client.incrByFloat('nr:f', 1.5), '1.5');

  // Maps: CONFIG GET is a RESP3 map, read as an object.
  const config = await client.configGet('maxmemory-policy');
  assert.deepEqual(Object.keys(config), ['maxmemory-policy']);

  // Errors keep Redis's words.
  await client.set('nr:s', 'abc');
  await expectError(client.incr('nr:s'), 'ERR value is not an integer or out of range');

  // Siblings: a SETV with a stale context keeps the value it did not see.
  await client.set('nr:sib', 'a');
  const [ctx] = await client.sendCommand(['GETV', 'nr:sib']);
  await client.set('nr:sib', 'b');
  assert.equal(await client.sendCommand(['SETV', 'nr:sib', ctx, 'c']), 'OK');
  const siblings = await client.get('nr:sib');
  assert.ok(Array.isArray(siblings), 'GET of siblings is an array: ' + JSON.stringify(siblings));
  assert.deepEqual([...siblings].sort(), ['b', 'c']);
  const getv = await client.sendCommand(['GETV', 'nr:sib']);
  assert.equal(getv.length, 2);
  assert.equal(typeof getv[0], 'string');
  assert.deepEqual([...getv[1]].sort(), ['b', 'c']);

  // Pipelining (node-redis pipelines concurrent commands).
  const many = await Promise.all(Array.from({ length: 50 }, (_, i) => client.set('nr:p' + i, String(i))));
  assert.ok(many.every((r) => r === 'OK'));
  const back = await client.mGet(Array.from({ length: 50 }, (_, i) => 'nr:p' + i));
  assert.deepEqual(back, Array.from({ length: 50 }, (_, i) => String(i)));

  assert.equal(await client.ping(), 'PONG');
  await client.quit();
  assert.deepEqual(errors, []);
}

main().then(
  () => {
    console.log('node_redis_test: OK');
    process.exit(0);
  },
  (e) => {
    console.error('node_redis_test: FAILED:', e && e.stack ? e.stack : e);
    process.exit(1);
  },
);

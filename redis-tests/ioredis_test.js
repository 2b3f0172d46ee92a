// Compatibility test through an unmodified npm client (ioredis).
// Usage: node ioredis_test.js HOST PORT
// Exits 0 when every check passes, 1 on the first mismatch (with a message).
'use strict';

const assert = require('node:assert/strict');
const Redis = require('ioredis');

const [host, portText] = process.argv.slice(2);
if (!host || !portText) {
  console.error('usage: node ioredis_test.js HOST PORT');
  process.exit(2);
}

// Hard deadline for the whole run: never hang a ctest.
const watchdog = setTimeout(() => {
  console.error('ioredis_test: timed out');
  process.exit(1);
}, 60000);
watchdog.unref();

async function waitFor(cond, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error('timed out waiting for: ' + what);
    await new Promise((r) => setTimeout(r, delay));
  }
}

async function expectError(promise, message) {
  try {
    const v = await promise;
    assert.fail('expected error ' + JSON.stringify(message) + ', got ' + JSON.stringify(v));
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.equal(e.name, 'ReplyError', 'error type for ' + message);
    assert.equal(e.message, message);
  }
}

async function testStrings(r) {
  assert.equal(await r.set('s:k', 'v'), 'OK');
  assert.equal(await r.get('s:k'), 'v');
  assert.equal(await r.get('s:missing'), null);
  assert.equal(await r.set('s:k', 'w', 'NX'), null);
  assert.equal(await r.set('s:k', 'w', 'XX'), 'OK');
  assert.equal(await r.mset({ 's:a': '1', 's:b': '2' }), 'OK');
  assert.deepEqual(await r.mget('s:a', 's:nope', 's:b'), ['1', null, '2']);
  assert.equal(await r.incr('s:a'), 2);
  assert.equal(await r.incrby('s:a', 40), 42);
  assert.equal(await r.decr('s:a'), 41);
  assert.equal(await r.append('s:b', 'xyz'), 4);
  assert.equal(await r.strlen('s:b'), 4);
  assert.equal(await r.getrange('s:b', 1, 2), 'xy');
  const binary = Buffer.from([0, 1, 2, 255, 13, 10, 0]);
  assert.equal(await r.set('s:bin', binary), 'OK');
  assert.ok(binary.equals(await r.getBuffer('s:bin')));
  const utf8 = 'héllo wörld ✓';
  await r.set('s:utf8', utf8);
  assert.equal(await r.get('s:utf8'), utf8);
  assert.equal(await r.exists('s:a', 's:b', 's:missing'), 2);
  assert.equal(await r.del('s:a', 's:b', 's:missing'), 2);
  assert.equal(await r.type('s:k'), 'string');
}

async function testExpiry(r) {
  assert.equal(await r.set('e:k', 'v', 'EX', 100), 'OK');
  const ttl = await r.ttl('e:k');
  assert.ok(ttl >= 99 && ttl <= 100, 'ttl ' + ttl);
  const pttl = await r.pttl('e:k');
  assert.ok(pttl > 98000 && pttl <= 100000, 'pttl ' + pttl);
  assert.equal(await r.ttl('e:missing'), -2);
  await r.set('e:plain', 'v');
  assert.equal(await r.ttl('e:plain'), -1);
  assert.equal(await r.set('e:short', 'v', 'PX', 200), 'OK');
  assert.equal(await r.get('e:short'), 'v');
  await waitFor(async () => (await r.get('e:short')) === null, 5000, 'e:short to expire');
  assert.equal(await r.expire('e:plain', 50), 1);
  assert.ok((await r.ttl('e:plain')) > 0);
  assert.equal(await r.persist('e:plain'), 1);
  assert.equal(await r.ttl('e:plain'), -1);
}

async function testPipeline(r) {
  const n = 1000;
  const p = r.pipeline();
  for (let i = 0; i < n; i++) p.set('p:' + i, 'val' + i);
  for (let i = 0; i < n; i++) p.get('p:' + i);
  p.incr('p:counter');
  p.incr('p:0'); // error inside the pipeline: value is not an integer
  p.incr('p:counter');
  const results = await p.exec();
  assert.equal(results.length, 2 * n + 3);
  for (let i = 0; i < n; i++) {
    assert.deepEqual(results[i], [null, 'OK'], 'set reply ' + i);
    assert.deepEqual(results[n + i], [null, 'val' + i], 'get reply ' + i);
  }
  assert.deepEqual(results[2 * n], [null, 1]);
  assert.equal(results[2 * n + 1][0].message, 'ERR value is not an integer or out of range');
  assert.deepEqual(results[2 * n + 2], [null, 2]);

  // Auto-pipelining of concurrent commands keeps each reply with its command.
  const many = await Promise.all(Array.from({ length: 500 }, (_, i) => r.get('p:' + i)));
  many.forEach((v, i) => assert.equal(v, 'val' + i));
}

// Keys share the hash tag {m} so that the transaction also runs on a cluster.
async function testMulti(r, other) {
  // multi().exec(): [[err, reply], ...] from one EXEC.
  const results = await r.multi().set('{m}:a', '1').incr('{m}:a').get('{m}:a').exec();
  assert.deepEqual(results, [
    [null, 'OK'],
    [null, 2],
    [null, '2'],
  ]);
  // A runtime error is an element; the rest ran.
  await r.set('{m}:s', 'text');
  const mixed = await r.multi().incr('{m}:s').set('{m}:b', 'x').exec();
  assert.equal(mixed[0][0].message, 'ERR value is not an integer or out of range');
  assert.deepEqual(mixed[1], [null, 'OK']);
  // WATCH: a write by another connection makes exec() resolve to null.
  await r.set('{m}:w', '1');
  await r.watch('{m}:w');
  await other.set('{m}:w', '2');
  assert.equal(await r.multi().set('{m}:w', '3').exec(), null);
  assert.equal(await r.get('{m}:w'), '2');
  // RENAME and COPY.
  assert.equal(await r.rename('{m}:w', '{m}:w2'), 'OK');
  assert.equal(await r.copy('{m}:w2', '{m}:w3'), 1);
  assert.equal(await r.get('{m}:w3'), '2');
}

async function testErrors(r) {
  await expectError(r.call('foo', 'a', 'b'), "ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
  await expectError(r.call('get'), "ERR wrong number of arguments for 'get' command");
  await expectError(r.call('set', 'k', 'v', 'XX', 'NX'), 'ERR syntax error');
  await r.set('err:s', 'abc');
  await expectError(r.incr('err:s'), 'ERR value is not an integer or out of range');
  // The connection stays usable.
  assert.equal(await r.ping(), 'PONG');
}

function scanAll(r, options) {
  return new Promise((resolve, reject) => {
    const seen = new Set();
    const stream = r.scanStream(options);
    stream.on('data', (keys) => keys.forEach((k) => seen.add(k)));
    stream.on('end', () => resolve(seen));
    stream.on('error', reject);
  });
}

async function testScanStream(r) {
  const n = 300;
  const p = r.pipeline();
  for (let i = 0; i < n; i++) p.set('scan:' + i, String(i));
  await p.exec();
  const seen = await scanAll(r, { match: 'scan:*', count: 37 });
  assert.equal(seen.size, n);
  for (let i = 0; i < n; i++) assert.ok(seen.has('scan:' + i), 'missing scan:' + i);
  const all = await scanAll(r, { count: 100 });
  assert.equal(all.size, await r.dbsize());
}

// A web session kept in a hash: fields at login, a per-request counter, an
// idle timeout, a field dropped at logout.
async function testSessionHash(r) {
  const k = 'session:ioredis';
  await r.del(k);
  assert.equal(await r.hset(k, { user: 'ann', role: 'admin', hits: '0' }), 3);
  assert.deepEqual(await r.hgetall(k), { user: 'ann', role: 'admin', hits: '0' });
  for (let i = 0; i < 4; i++) await r.hincrby(k, 'hits', 1);
  assert.equal(await r.hget(k, 'hits'), '4');
  assert.equal(await r.expire(k, 600), 1);
  const ttl = await r.ttl(k);
  assert.ok(ttl > 590 && ttl <= 600, 'ttl ' + ttl);
  assert.equal(await r.hdel(k, 'role', 'nope'), 1);
  assert.deepEqual(await r.hmget(k, 'user', 'role'), ['ann', null]);
  assert.equal(await r.hlen(k), 2);
  assert.equal(await r.type(k), 'hash');
  assert.equal(await r.hincrbyfloat(k, 'score', '2.5'), '2.5');
  await expectError(r.hincrby(k, 'user', 1), 'ERR hash value is not an integer');
  await expectError(r.get(k), 'WRONGTYPE Operation against a key holding the wrong kind of value');
  assert.equal(await r.del(k), 1);
  assert.deepEqual(await r.hgetall(k), {});
}

// A shopping cart kept in a set.
async function testCartSet(r) {
  const k = 'cart:ioredis';
  await r.del(k);
  assert.equal(await r.sadd(k, 'apple', 'pear', 'fig', 'apple'), 3);
  assert.equal(await r.srem(k, 'pear', 'kiwi'), 1);
  assert.deepEqual((await r.smembers(k)).sort(), ['apple', 'fig']);
  assert.equal(await r.scard(k), 2);
  assert.equal(await r.sismember(k, 'fig'), 1);
  assert.equal(await r.sismember(k, 'pear'), 0);
  assert.equal(await r.type(k), 'set');
  const seen = new Set();
  await new Promise((resolve, reject) => {
    const stream = r.sscanStream(k, { count: 1 });
    stream.on('data', (items) => items.forEach((m) => seen.add(m)));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  assert.deepEqual([...seen].sort(), ['apple', 'fig']);
  assert.deepEqual((await r.spop(k, 10)).sort(), ['apple', 'fig']);
  assert.equal(await r.exists(k), 0);
}

async function main() {
  const r = new Redis({
    host,
    port: Number(portText),
    maxRetriesPerRequest: 1,
    connectTimeout: 10000,
    retryStrategy: () => null, // fail rather than reconnect forever
  });
  r.on('error', (e) => console.error('ioredis connection error:', e.message));
  const other = new Redis({
    host,
    port: Number(portText),
    maxRetriesPerRequest: 1,
    connectTimeout: 10000,
    retryStrategy: () => null,
  });
  const tests = {
    testStrings,
    testExpiry,
    testPipeline,
    testMulti: (c) => testMulti(c, other),
    testErrors,
    testScanStream,
    testSessionHash,
    testCartSet,
  };
  let passed = 0;
  let failed = 0;
  try {
    assert.equal(await r.flushall(), 'OK');
    for (const [name, fn] of Object.entries(tests)) {
      try {
        await fn(r);
        passed++;
        console.log('ok   ' + name);
      } catch (e) {
        failed++;
        console.log('FAIL ' + name + ': ' + (e && e.stack ? e.stack : e));
      }
    }
  } finally {
    r.disconnect();
    other.disconnect();
  }
  console.log(passed + ' passed, ' + failed + ' failed');
  process.exitCode = failed === 0 ? 0 : 1;
}

main().catch((e) => {
  console.error('ioredis_test:', e && e.stack ? e.stack : e);
  process.exitCode = 1;
});

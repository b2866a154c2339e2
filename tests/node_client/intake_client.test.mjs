// docket.v1.Intake driven from Node with @grpc/grpc-js, the schema loaded at
// run time from the repo's proto/ files by @grpc/proto-loader: proof that a
// service not written in C++ can use the contract as published.
//
//   DOCKET_INTAKE_ADDR=127.0.0.1:7001 node tests/node_client/intake_client.test.mjs
//
// node_client_itest (tests/node_client/node_client_itest.cc) starts
// redis-server, docket-devkafka and docket-intake, then runs this file.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const here = path.dirname(fileURLToPath(import.meta.url));
const protoDir = path.resolve(here, '../../proto');
const address = process.env.DOCKET_INTAKE_ADDR;
const kAcmeKey = 'dk_demo_acme_publisher_LOCAL_STACK_ONLY';
const kAcmeInvoicesKey = 'dk_demo_acme_invoices_LOCAL_STACK_ONLY';
const kUuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// Keys unique to this run, so a rerun against a long-lived stack is no duplicate.
const run = randomUUID();

assert.ok(address, 'set DOCKET_INTAKE_ADDR to the host:port of docket-intake');

const definition = protoLoader.loadSync('docket/v1/intake_service.proto', {
  includeDirs: [protoDir],
  keepCase: true,  // field names exactly as in the .proto (idempotency_key, ...)
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const { Intake } = grpc.loadPackageDefinition(definition).docket.v1;

// `key` null: no authorization header at all.
function metadata(key) {
  const md = new grpc.Metadata();
  if (key !== null) md.set('authorization', `Bearer ${key}`);
  return md;
}

function deadline() {
  return { deadline: Date.now() + 20_000 };
}

// A valid data_entry submission (deploy/config/catalog.yaml).
function dataEntry(idempotencyKey) {
  return {
    tenant: 'acme',
    kind: 'data_entry',
    idempotency_key: idempotencyKey,
    attributes: {
      document_id: { string_value: `D-${idempotencyKey}` },
      document_type: { enum_value: 'receipt' },
      pages: { number_value: 2 },
    },
  };
}

// The unary call as a promise: resolves {response} or rejects with the grpc error.
function call(client, method, request, key = kAcmeKey) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata(key), deadline(), (err, response) => {
      if (err) reject(err);
      else resolve(response);
    });
  });
}

describe('docket.v1.Intake from Node (@grpc/grpc-js + proto-loader)', () => {
  let client;
  before(() => {
    client = new Intake(address, grpc.credentials.createInsecure());
  });
  after(() => client.close());

  test('Submit with the demo key admits the item under a UUIDv7 id', async () => {
    const res = await call(client, 'Submit', { submission: dataEntry(`${run}-submit`) });
    assert.match(res.item_id, kUuidV7);
    assert.equal(res.duplicate, false);
  });

  test('a duplicate Submit gets the first item id with duplicate=true', async () => {
    const key = `${run}-dup`;
    const first = await call(client, 'Submit', { submission: dataEntry(key) });
    const second = await call(client, 'Submit', { submission: dataEntry(key) });
    assert.equal(first.duplicate, false);
    assert.equal(second.item_id, first.item_id);
    assert.equal(second.duplicate, true);
  });

  test('Submit without an authorization header is UNAUTHENTICATED', async () => {
    await assert.rejects(call(client, 'Submit', { submission: dataEntry(`${run}-nokey`) }, null),
      (err) => {
        assert.equal(err.code, grpc.status.UNAUTHENTICATED, err.message);
        assert.match(err.details, /missing bearer token/);
        return true;
      });
  });

  test('Submit with an unknown key is UNAUTHENTICATED', async () => {
    await assert.rejects(call(client, 'Submit', { submission: dataEntry(`${run}-badkey`) }, 'dk_no_such_key'),
      (err) => {
        assert.equal(err.code, grpc.status.UNAUTHENTICATED, err.message);
        assert.match(err.details, /unknown API key/);
        assert.ok(!err.details.includes('dk_no_such_key'), 'the message never echoes the token');
        return true;
      });
  });

  test('a kind the key is not bound to is PERMISSION_DENIED', async () => {
    await assert.rejects(
      call(client, 'Submit', { submission: dataEntry(`${run}-denied`) }, kAcmeInvoicesKey),
      (err) => {
        assert.equal(err.code, grpc.status.PERMISSION_DENIED, err.message);
        return true;
      });
  });

  test('an invalid Submit is INVALID_ARGUMENT naming every violating field', async () => {
    const submission = dataEntry(`${run}-invalid`);
    delete submission.attributes.document_id;                        // required, missing
    submission.attributes.pages = { string_value: 'two' };           // number expected
    submission.attributes.document_type = { enum_value: 'napkin' };  // not a member
    await assert.rejects(call(client, 'Submit', { submission }), (err) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT, err.message);
      assert.match(err.details, /^3 violations: /);
      for (const field of ['attributes.document_id', 'attributes.pages', 'attributes.document_type']) {
        assert.ok(err.details.includes(field), `"${err.details}" names ${field}`);
      }
      return true;
    });
  });

  test('SubmitBatch answers one result per item, in order, with violations by field', async () => {
    const invalid = dataEntry(`${run}-batch-bad`);
    delete invalid.attributes.pages;
    const items = [
      { submission: dataEntry(`${run}-batch-0`), client_ref: 'r0' },
      { submission: invalid, client_ref: 'r1' },
      { submission: dataEntry(`${run}-batch-2`), client_ref: 'r2' },
      { submission: dataEntry(`${run}-batch-0`), client_ref: 'r3' },  // duplicate of r0
    ];
    const res = await call(client, 'SubmitBatch', { items });
    assert.deepEqual(res.results.map((r) => r.client_ref), ['r0', 'r1', 'r2', 'r3']);
    const [r0, r1, r2, r3] = res.results;
    assert.equal(r0.code, grpc.status.OK);
    assert.match(r0.item_id, kUuidV7);
    assert.equal(r1.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(r1.item_id, '');
    assert.deepEqual(r1.violations.map((v) => v.field), ['attributes.pages']);
    assert.equal(r2.code, grpc.status.OK);
    assert.match(r2.item_id, kUuidV7);
    assert.notEqual(r2.item_id, r0.item_id);
    assert.equal(r3.code, grpc.status.OK);
    assert.equal(r0.duplicate, false);
    assert.equal(r3.item_id, r0.item_id, 'the same key twice in one batch is one item');
    assert.equal(r3.duplicate, true);
  });

  test('SubmitStream acks every request in order, echoing client_ref', async () => {
    const n = 200;
    const stream = client.SubmitStream(metadata(kAcmeKey), deadline());
    const results = [];
    const done = new Promise((resolve, reject) => {
      stream.on('data', (r) => results.push(r));
      stream.on('error', reject);
      stream.on('end', resolve);
    });
    for (let i = 0; i < n; ++i) {
      stream.write({ submission: dataEntry(`${run}-stream-${i}`), client_ref: `s${i}` });
    }
    // A resubmission on the same stream is acked as a duplicate of item 0.
    stream.write({ submission: dataEntry(`${run}-stream-0`), client_ref: 'again' });
    stream.end();
    await done;

    assert.equal(results.length, n + 1);
    results.slice(0, n).forEach((r, i) => {
      assert.equal(r.client_ref, `s${i}`);
      assert.equal(r.code, grpc.status.OK, r.message);
      assert.match(r.item_id, kUuidV7);
      assert.equal(r.duplicate, false);
    });
    assert.equal(new Set(results.slice(0, n).map((r) => r.item_id)).size, n, 'one id per item');
    assert.equal(results[n].client_ref, 'again');
    assert.equal(results[n].duplicate, true);
    assert.equal(results[n].item_id, results[0].item_id);
  });

  test('SubmitStream without a key ends the stream UNAUTHENTICATED', async () => {
    const stream = client.SubmitStream(metadata(null), deadline());
    const status = new Promise((resolve) => {
      stream.on('data', () => {});
      stream.on('error', (err) => resolve(err.code));
      stream.on('end', () => resolve(grpc.status.OK));
    });
    stream.write({ submission: dataEntry(`${run}-stream-nokey`), client_ref: 'x' });
    stream.end();
    assert.equal(await status, grpc.status.UNAUTHENTICATED);
  });
});

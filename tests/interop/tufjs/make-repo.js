#!/usr/bin/env node
// Build a TUF repository with @tufjs/models (independently of fwtrust), for the
// test that our client accepts it. Consistent snapshots, ed25519 and ecdsa keys,
// one delegated role, optionally a root rotation (version 2 signed by old and new keys).
//   node make-repo.js --out DIR --target NAME=FILE [--target NAME=FILE ...]
//                     [--delegated-target hw-a/NAME=FILE] [--rotate] [--expired ROLE]
// Layout: DIR/metadata/{1.root.json,[2.root.json],root.json,1.targets.json,1.hw-a.json,
// 1.snapshot.json,timestamp.json}, DIR/targets/[dir/]SHA256.NAME.
// Exit status: 0 success, 2 usage.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { Metadata, Root, Targets, Snapshot, Timestamp, Key, TargetFile, MetaFile, Signature } = require('@tufjs/models');
const { canonicalize } = require('@tufjs/canonical-json');

function usage() {
  console.error('usage: node make-repo.js --out DIR --target NAME=FILE [--delegated-target hw-a/NAME=FILE] [--rotate] [--expired ROLE]');
  process.exit(2);
}
const args = { targets: [], delegated: [], rotate: false, expired: null, out: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  switch (argv[i]) {
    case '--out': args.out = argv[++i]; break;
    case '--target': args.targets.push(argv[++i]); break;
    case '--delegated-target': args.delegated.push(argv[++i]); break;
    case '--rotate': args.rotate = true; break;
    case '--expired': args.expired = argv[++i]; break;
    default: usage();
  }
}
if (!args.out || args.targets.length === 0) usage();

function newKey(type) {
  const kp = type === 'ed25519'
    ? crypto.generateKeyPairSync('ed25519')
    : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let keyval;
  let scheme;
  if (type === 'ed25519') {
    const der = kp.publicKey.export({ format: 'der', type: 'spki' });
    keyval = { public: der.subarray(der.length - 32).toString('hex') };
    scheme = 'ed25519';
  } else {
    keyval = { public: kp.publicKey.export({ format: 'pem', type: 'spki' }) };
    scheme = 'ecdsa-sha2-nistp256';
  }
  const keyJSON = { keytype: type === 'ed25519' ? 'ed25519' : 'ecdsa', scheme, keyval };
  const keyID = crypto.createHash('sha256').update(canonicalize(keyJSON)).digest('hex');
  return { keyID, key: Key.fromJSON(keyID, keyJSON), keyJSON, privateKey: kp.privateKey, type };
}

function signer(k) {
  return (bytes) => {
    const sig = k.type === 'ed25519'
      ? crypto.sign(null, bytes, k.privateKey)
      : crypto.sign('sha256', bytes, k.privateKey);
    return new Signature({ keyID: k.keyID, sig: sig.toString('hex') });
  };
}

function expiry(role, days) {
  const d = new Date(Date.now() + (args.expired === role ? -1 : days) * 86400e3);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const mdir = path.join(args.out, 'metadata');
const tdir = path.join(args.out, 'targets');
fs.mkdirSync(mdir, { recursive: true });
fs.mkdirSync(tdir, { recursive: true });

function writeMeta(name, md) {
  const text = JSON.stringify(md.toJSON(), null, 1);
  fs.writeFileSync(path.join(mdir, name), text);
  return Buffer.from(text);
}

function addTargetFile(spec) {
  const eq = spec.indexOf('=');
  if (eq < 1) usage();
  const name = spec.slice(0, eq);
  const data = fs.readFileSync(spec.slice(eq + 1));
  const sha = crypto.createHash('sha256').update(data).digest('hex');
  const dir = path.dirname(name) === '.' ? '' : path.dirname(name);
  fs.mkdirSync(path.join(tdir, dir), { recursive: true });
  fs.writeFileSync(path.join(tdir, dir, `${sha}.${path.basename(name)}`), data);
  return new TargetFile({ path: name, length: data.length, hashes: { sha256: sha }, unrecognizedFields: { custom: { made_by: 'tufjs-models' } } });
}

const root1 = newKey('ed25519');
const root2 = newKey('ecdsa');
const targetsKey = newKey('ed25519');
const snapshotKey = newKey('ecdsa');
const timestampKey = newKey('ed25519');
const hwKey = newKey('ed25519');

function rootMeta(version, rootKey) {
  const root = new Root({ version, expires: expiry('root', 365), consistentSnapshot: true });
  root.addKey(rootKey.key, 'root');
  root.addKey(targetsKey.key, 'targets');
  root.addKey(snapshotKey.key, 'snapshot');
  root.addKey(timestampKey.key, 'timestamp');
  return new Metadata(root);
}

const r1 = rootMeta(1, root1);
r1.sign(signer(root1));
writeMeta('1.root.json', r1);
let latestRoot = r1;
if (args.rotate) {
  const r2 = rootMeta(2, root2);
  r2.sign(signer(root1));
  r2.sign(signer(root2));
  writeMeta('2.root.json', r2);
  latestRoot = r2;
}
writeMeta('root.json', latestRoot);

const targets = Metadata.fromJSON('targets', {
  signatures: [],
  signed: {
    _type: 'targets', spec_version: '1.0.31', version: 1, expires: expiry('targets', 90), targets: {},
    delegations: {
      keys: { [hwKey.keyID]: hwKey.keyJSON },
      roles: [{ name: 'hw-a', keyids: [hwKey.keyID], threshold: 1, paths: ['hw-a/*'], terminating: true }],
    },
  },
});
for (const t of args.targets) targets.signed.addTarget(addTargetFile(t));
targets.sign(signer(targetsKey));
const targetsBytes = writeMeta('1.targets.json', targets);

const hw = new Metadata(new Targets({ version: 1, expires: expiry('hw-a', 90) }));
for (const t of args.delegated) hw.signed.addTarget(addTargetFile(t));
hw.sign(signer(hwKey));
writeMeta('1.hw-a.json', hw);

const snapshot = new Metadata(new Snapshot({
  version: 1, expires: expiry('snapshot', 7),
  meta: {
    'targets.json': new MetaFile({ version: 1, length: targetsBytes.length }),
    'hw-a.json': new MetaFile({ version: 1 }),
  },
}));
snapshot.sign(signer(snapshotKey));
const snapBytes = writeMeta('1.snapshot.json', snapshot);

const timestamp = new Metadata(new Timestamp({
  version: 1, expires: expiry('timestamp', 1),
  snapshotMeta: new MetaFile({
    version: 1, length: snapBytes.length,
    hashes: { sha256: crypto.createHash('sha256').update(snapBytes).digest('hex') },
  }),
}));
timestamp.sign(signer(timestampKey));
writeMeta('timestamp.json', timestamp);
console.log(JSON.stringify({ ok: true, root: path.join(mdir, '1.root.json'), rotated: args.rotate }));

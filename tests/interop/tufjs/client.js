#!/usr/bin/env node
// tuf-js client for the interoperability tests: trust ROOT, refresh from
// METADATA_URL, download TARGET from TARGETS_URL into OUT.
//   node client.js --root ROOT --metadata-url URL --targets-url URL --dir DIR
//                  [--target NAME --out FILE] [--expect-fail]
// HTTPS with a private CA: set NODE_EXTRA_CA_CERTS=ca.pem.
// Prints one JSON line: {"ok":true,"root_version":N,"targets_version":N,"target":{...}}
// Exit status: 0 success, 1 the update failed (message on stderr), 2 usage.
'use strict';
const fs = require('fs');
const path = require('path');
const { Updater } = require('tuf-js');

function parseArgs(argv) {
  const a = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (!k.startsWith('--')) throw new Error(`unexpected argument ${k}`);
    const name = k.slice(2);
    if (name === 'help') { a.help = true; continue; }
    if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
    a[name] = argv[++i];
  }
  return a;
}

async function main() {
  let a;
  try {
    a = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`client.js: ${e.message}`);
    return 2;
  }
  if (a.help || !a.root || !a['metadata-url'] || !a['targets-url'] || !a.dir) {
    console.error('usage: node client.js --root ROOT --metadata-url URL --targets-url URL --dir DIR [--target NAME --out FILE]');
    return 2;
  }
  const metadataDir = path.join(a.dir, 'metadata');
  const targetDir = path.join(a.dir, 'targets');
  fs.mkdirSync(metadataDir, { recursive: true });
  fs.mkdirSync(targetDir, { recursive: true });
  if (!fs.existsSync(path.join(metadataDir, 'root.json'))) {
    fs.copyFileSync(a.root, path.join(metadataDir, 'root.json'));
  }
  const updater = new Updater({
    metadataBaseUrl: a['metadata-url'],
    targetBaseUrl: a['targets-url'],
    metadataDir,
    targetDir,
    config: { fetchRetry: 0 },
  });
  await updater.refresh();
  const root = JSON.parse(fs.readFileSync(path.join(metadataDir, 'root.json')));
  const targets = JSON.parse(fs.readFileSync(path.join(metadataDir, 'targets.json')));
  const out = { ok: true, root_version: root.signed.version, targets_version: targets.signed.version };
  if (a.target) {
    const info = await updater.getTargetInfo(a.target);
    if (!info) throw new Error(`target ${a.target} not found`);
    const file = a.out || path.join(targetDir, path.basename(a.target));
    await updater.downloadTarget(info, file);
    out.target = { name: a.target, length: info.length, hashes: info.hashes, custom: info.custom, file };
  }
  console.log(JSON.stringify(out));
  return 0;
}

main().then((rc) => process.exit(rc), (e) => {
  console.error(`client.js: update failed: ${e && e.constructor ? e.constructor.name : 'Error'}: ${e && e.message}`);
  process.exit(1);
});

// Oracle for tests/tokenizer/oracle_test.cc: encodes every string of a JSON array with the npm
// package gpt-3-encoder (1.1.4) and writes the id arrays as JSON.
//   node oracle_encode.js encode NPM_PREFIX CORPUS.json OUT.json
//   node oracle_encode.js classes OUT.json    (the \p{L} \p{N} \s ranges of this Node)
'use strict';
const fs = require('fs');
const path = require('path');

const mode = process.argv[2];
if (mode === 'encode') {
  const [prefix, corpusPath, outPath] = process.argv.slice(3);
  const moduleDir = path.join(prefix, 'node_modules', 'gpt-3-encoder');
  const version = JSON.parse(fs.readFileSync(path.join(moduleDir, 'package.json'), 'utf8')).version;
  const { encode } = require(moduleDir);
  const corpus = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
  const ids = corpus.map((s) => encode(s));
  fs.writeFileSync(outPath, JSON.stringify({ version, node: process.version, ids }));
} else if (mode === 'classes') {
  const [outPath] = process.argv.slice(3);
  const classes = { L: /^\p{L}$/u, N: /^\p{N}$/u, S: /^\s$/u };
  const out = { unicode: process.versions.unicode, icu: process.versions.icu };
  for (const [name, re] of Object.entries(classes)) {
    const ranges = [];
    let start = -1;
    for (let cp = 0; cp <= 0x110000; cp++) {
      const hit = cp <= 0x10ffff && re.test(String.fromCodePoint(cp));
      if (hit && start < 0) start = cp;
      if (!hit && start >= 0) { ranges.push([start, cp - 1]); start = -1; }
    }
    out[name] = ranges;
  }
  fs.writeFileSync(outPath, JSON.stringify(out));
} else {
  console.error('usage: oracle_encode.js encode PREFIX CORPUS OUT | classes OUT');
  process.exit(2);
}

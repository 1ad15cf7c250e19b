#!/usr/bin/env node
// Builds native/libsecp256k1 (Sluice's binding to the system libsecp256k1; Debian: libsecp256k1-dev)
// with node-gyp. Run by `npm ci` (postinstall) where it may fail: the signer then uses the
// `secp256k1` npm addon, ~25% slower per signature and recovery, and says so at start. With
// --required (`npm run build:native`, which `npm test` runs after provisioning) a failure is an error.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const required = process.argv.includes('--required');
const dir = fileURLToPath(new URL('../native/libsecp256k1/', import.meta.url));
const built = path.join(dir, 'build/Release/sluice_secp256k1.node');
const sources = ['binding.gyp', 'src/binding.c'].map((f) => path.join(dir, f));

const log = (message) => console.error(`[native] ${message}`);

function upToDate() {
  if (!fs.existsSync(built)) return false;
  const at = fs.statSync(built).mtimeMs;
  return sources.every((f) => fs.statSync(f).mtimeMs <= at);
}

/** npm gives its own node-gyp to lifecycle scripts; run by hand, use the one npm ships. */
function nodeGyp() {
  if (process.env.npm_config_node_gyp) return [process.env.npm_config_node_gyp];
  const bundled = path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  return fs.existsSync(bundled) ? [bundled] : null;
}

if (upToDate()) process.exit(0);
if (!fs.existsSync('/usr/include/secp256k1_recovery.h')) {
  const message = 'libsecp256k1 headers not found (apt-get install libsecp256k1-dev); the signer will use the slower `secp256k1` npm addon';
  if (required) {
    log(`error: ${message}`);
    process.exit(1);
  }
  log(`skipped: ${message}`);
  process.exit(0);
}
const gyp = nodeGyp();
if (!gyp) {
  log('error: node-gyp not found (it ships with npm)');
  process.exit(required ? 1 : 0);
}
log('building the libsecp256k1 binding (node-gyp)…');
// npm sets npm_config_nodedir for its scripts; by hand, take npm's own setting (this machine builds offline against local headers).
const env = { ...process.env };
if (!env.npm_config_nodedir) {
  const nodedir = spawnSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' }).stdout?.trim();
  if (nodedir && nodedir !== 'undefined') env.npm_config_nodedir = nodedir;
}
const result = spawnSync(process.execPath, [...gyp, 'rebuild', '--loglevel=warn'], { cwd: dir, env, stdio: ['ignore', 'inherit', 'inherit'] });
if (result.status !== 0 || !fs.existsSync(built)) {
  log(`${required ? 'error' : 'skipped'}: node-gyp failed (exit ${result.status}); the signer will use the slower \`secp256k1\` npm addon`);
  process.exit(required ? 1 : 0);
}
log(`built ${path.relative(process.cwd(), built)}`);

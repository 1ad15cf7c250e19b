#!/usr/bin/env node
// Compiles contracts/DemoToken.sol and writes a TypeScript artifact, so the runtime
// (dev mode, tests) never needs solc. Usage: node scripts/compile-contracts.mjs
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = 'contracts/DemoToken.sol';
const OUT = 'src/dev/contracts/demo-token.artifact.ts';
// cancun: accepted by anvil's default ("latest") hardfork and by hardhat's default,
// while avoiding prague-only opcodes that older dev nodes would reject.
const EVM_VERSION = 'cancun';
const OPTIMIZER_RUNS = 200;

const source = readFileSync(join(root, SOURCE), 'utf8');
const input = {
  language: 'Solidity',
  sources: { [SOURCE]: { content: source } },
  settings: {
    optimizer: { enabled: true, runs: OPTIMIZER_RUNS },
    evmVersion: EVM_VERSION,
    outputSelection: { '*': { DemoToken: ['abi', 'evm.bytecode.object'] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const diagnostics = output.errors ?? [];
for (const d of diagnostics) console.error(d.formattedMessage ?? d.message);
if (diagnostics.some((d) => d.severity === 'error')) process.exit(1);

const contract = output.contracts?.[SOURCE]?.DemoToken;
if (!contract?.evm?.bytecode?.object) {
  console.error(`DemoToken missing from solc output for ${SOURCE}`);
  process.exit(1);
}

// The source hash lets a test detect an artifact that is stale relative to the .sol file.
const sourceSha256 = createHash('sha256').update(source).digest('hex');
const text = `// GENERATED FILE - do not edit by hand.
// Source: ${SOURCE} (sha256 ${sourceSha256})
// Compiler: solc ${solc.version()}, optimizer ${OPTIMIZER_RUNS} runs, evmVersion ${EVM_VERSION}
// Regenerate: node scripts/compile-contracts.mjs

export const demoTokenSourceSha256 = '${sourceSha256}';

export const demoTokenAbi = ${JSON.stringify(contract.abi, null, 2)} as const;

export const demoTokenBytecode: \`0x\${string}\` = '0x${contract.evm.bytecode.object}';
`;

mkdirSync(join(root, dirname(OUT)), { recursive: true });
writeFileSync(join(root, OUT), text);
console.log(`wrote ${OUT} (${contract.evm.bytecode.object.length / 2} bytes of init code)`);

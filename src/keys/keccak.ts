import { createRequire } from 'node:module';
import path from 'node:path';
import { type Hex, keccak256 as keccak256Js } from 'viem';

// keccak-256 for the hot paths (signing, tx hashes): the optional `keccak` addon when it loads,
// else viem's JS (~25 µs a hash).

/**
 * The `keccak` addon's sponge (XKCP), one per thread and reused. The package's own hash objects are
 * readable-stream Transforms: building one per hash cost more than the hash (8.6 against 3.2 µs
 * for a signed transfer's bytes, and ~2.5 KB of garbage each), three times per payout signed.
 * Squeezing pads with Keccak's 0x01 (not SHA-3's 0x06), as the package's `keccak256` does.
 */
type KeccakSponge = { initialize(rate: number, capacity: number): void; absorb(data: Buffer): void; squeeze(length: number): Buffer };

const keccakSponge = loadKeccakSponge();

/** Which keccak-256 hashes transactions here: the optional `keccak` addon (≈3× faster) or viem's JS. */
export const keccakBackend: 'native' | 'js' = keccakSponge ? 'native' : 'js';

/** The addon's sponge class, as the package itself loads it (node-gyp-build); null when absent or wrong. */
function loadKeccakSponge(): KeccakSponge | null {
  try {
    const fromKeccak = createRequire(createRequire(import.meta.url).resolve('keccak/package.json'));
    const Sponge = fromKeccak('node-gyp-build')(path.dirname(fromKeccak.resolve('./package.json'))) as new () => KeccakSponge;
    const sponge = new Sponge();
    // Its class is the package's internals, not its API: used only if it hashes as viem's JS does.
    const probe = Buffer.from('sluice keccak-256 self-check');
    sponge.initialize(1088, 512);
    sponge.absorb(probe);
    return sponge.squeeze(32).equals(keccak256Js(probe, 'bytes')) ? sponge : null;
  } catch {
    return null;
  }
}

function keccak256Native(sponge: KeccakSponge, data: Buffer): Buffer {
  sponge.initialize(1088, 512);
  sponge.absorb(data);
  return sponge.squeeze(32);
}

export function keccak256Bytes(data: Uint8Array): Uint8Array {
  if (!keccakSponge) return keccak256Js(data, 'bytes');
  return keccak256Native(keccakSponge, Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

/** keccak-256 of hex data, as hex: a transaction's hash from its signed bytes. */
export function keccak256Hex(data: Hex): Hex {
  if (!keccakSponge) return keccak256Js(data);
  return `0x${keccak256Native(keccakSponge, Buffer.from(data.slice(2), 'hex')).toString('hex')}`;
}

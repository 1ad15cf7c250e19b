import { describe, expect, it } from 'vitest';
import { LANE_WINDOW, type LaneRow, splitLanes } from './lane-queries.js';

const A = '0x00000000000000000000000000000000000000A1';
const B = '0x00000000000000000000000000000000000000B2';

function laneRow(wallet: string, nonce: number, status: LaneRow['status'] = 'BROADCAST'): LaneRow {
  return { id: `${wallet}-${nonce}`, status, chain_id: 31337, wallet, nonce, user_id: 'u', asset: 'ETH', amount: '1', fee: '1', to_address: '0x1', tx_hash: null, block_number: null, block_hash: null, confirmations: 0, failure_code: null, cancel_reason: null };
}

describe('splitLanes (every lane of a chain from one read)', () => {
  it("gives each wallet its own rows in nonce order, and an idle wallet an empty lane", () => {
    const rows = [laneRow(A, 7), laneRow(B, 3, 'CONFIRMING'), laneRow(A, 5, 'RECEIVED'), laneRow(A, 6)];
    const lanes = splitLanes(rows, [A, B, '0xidle'], 100)!;
    expect(lanes.get(A)!.map((r) => r.nonce)).toEqual([5, 6, 7]);
    expect(lanes.get(B)!.map((r) => r.nonce)).toEqual([3]);
    expect(lanes.get('0xidle')).toEqual([]);
  });

  it('cuts a lane at its lowest LANE_WINDOW nonces', () => {
    const rows = Array.from({ length: LANE_WINDOW + 10 }, (_, i) => laneRow(A, LANE_WINDOW + 9 - i));
    const lane = splitLanes(rows, [A], 10 * LANE_WINDOW)!.get(A)!;
    expect(lane).toHaveLength(LANE_WINDOW);
    expect(lane[0]!.nonce).toBe(0);
    expect(lane.at(-1)!.nonce).toBe(LANE_WINDOW - 1);
  });

  it('gives no lanes when the read reached its limit (it has no order, so a lane may lack its lowest nonces)', () => {
    const rows = [laneRow(A, 9), laneRow(A, 8), laneRow(B, 1)];
    expect(splitLanes(rows, [A, B], 3)).toBeUndefined();
    expect(splitLanes(rows, [A, B], 4)).toBeDefined();
  });
});

import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.js';
import type { Services } from '../../src/runtime/services.js';

/**
 * Ledger conservation (invariant 5) read straight from the tables of any Sluice database:
 * - every journal sums to zero per asset;
 * - each user's balance row equals the sum of that user's account entries, and is not negative;
 * - credits - debits = available + held + paid out + fees, per asset;
 * - with `expectNothingHeld` (everything terminal), no user has anything held.
 */
export async function checkLedgerDb(k: Kysely<Database>, options: { expectNothingHeld?: boolean } = {}): Promise<{ violations: string[] }> {
  const entries = await k.selectFrom('ledger_entries').select(['journal_id', 'account', 'asset', 'amount']).execute();
  const balances = await k.selectFrom('balances').selectAll().execute();
  const violations: string[] = [];

  const byJournal = new Map<string, bigint>();
  const byAccount = new Map<string, bigint>();
  for (const e of entries) {
    const key = `${e.journal_id}/${e.asset}`;
    byJournal.set(key, (byJournal.get(key) ?? 0n) + BigInt(e.amount));
    const acct = `${e.account}/${e.asset}`;
    byAccount.set(acct, (byAccount.get(acct) ?? 0n) + BigInt(e.amount));
  }
  for (const [journal, sum] of byJournal) if (sum !== 0n) violations.push(`ledger: journal ${journal} sums to ${sum}`);

  const assets = new Set([...entries.map((e) => e.asset), ...balances.map((b) => b.asset)]);
  for (const b of balances) {
    const available = byAccount.get(`user:${b.user_id}:available/${b.asset}`) ?? 0n;
    const held = byAccount.get(`user:${b.user_id}:held/${b.asset}`) ?? 0n;
    if (BigInt(b.available) !== available) violations.push(`ledger: ${b.user_id}/${b.asset} available ${b.available} != entries ${available}`);
    if (BigInt(b.held) !== held) violations.push(`ledger: ${b.user_id}/${b.asset} held ${b.held} != entries ${held}`);
    if (BigInt(b.available) < 0n || BigInt(b.held) < 0n) violations.push(`ledger: ${b.user_id}/${b.asset} is negative`);
    if (options.expectNothingHeld && BigInt(b.held) !== 0n) violations.push(`ledger: ${b.user_id}/${b.asset} still holds ${b.held} with every withdrawal terminal`);
  }
  for (const asset of assets) {
    const external = byAccount.get(`external/${asset}`) ?? 0n; // = -(credits - debits)
    const userTotal = balances.filter((b) => b.asset === asset).reduce((s, b) => s + BigInt(b.available) + BigInt(b.held), 0n);
    const payouts = byAccount.get(`payouts/${asset}`) ?? 0n;
    const fees = byAccount.get(`fees/${asset}`) ?? 0n;
    if (-external !== userTotal + payouts + fees) {
      violations.push(`ledger: ${asset}: credits-debits ${-external} != available+held ${userTotal} + payouts ${payouts} + fees ${fees}`);
    }
  }
  return { violations };
}

/** The same check on a running stack's database. */
export function checkLedger(services: Services): Promise<{ violations: string[] }> {
  return checkLedgerDb(services.db.kysely);
}

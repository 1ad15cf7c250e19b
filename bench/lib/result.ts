import type { Progress } from './progress.js';
import type { RssRecorder } from './rss.js';
import type { Profile } from '../options.js';

/** One measured figure next to its ceiling from the same run. */
export type Figure = {
  what: string;
  value: number | null;
  unit: string;
  ceiling?: { what: string; value: number | null };
  /** value ÷ ceiling (higher is closer to what the machine allows). */
  ratio?: number | null;
  note?: string;
};

/** A goal from the performance issue, judged on this run. */
export type Target = {
  section: string;
  what: string;
  goal: string;
  measured: number | null;
  unit: string;
  ratio?: { to: string; value: number | null };
  pass: boolean | null;
  note?: string;
};

export type SectionResult = {
  name: string;
  ok: boolean;
  error?: string;
  seconds: number;
  figures: Figure[];
  targets: Target[];
  /** Everything measured, raw. */
  raw: Record<string, unknown>;
  notes: string[];
};

export type ScenarioContext = {
  profile: Profile;
  progress: Progress;
  rss: RssRecorder;
  /** Scratch space for databases, data dirs and child logs (removed at the end unless a run fails). */
  workDir: string;
};

export function ratio(value: number | null | undefined, ceiling: number | null | undefined): number | null {
  if (value == null || ceiling == null || ceiling === 0) return null;
  return Math.round((value / ceiling) * 1000) / 1000;
}

export function figure(what: string, value: number | null, unit: string, ceiling?: { what: string; value: number | null }, note?: string): Figure {
  return { what, value, unit, ...(ceiling ? { ceiling, ratio: ratio(value, ceiling.value) } : {}), ...(note ? { note } : {}) };
}

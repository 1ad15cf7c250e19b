import type { ScenarioContext, SectionResult } from '../lib/result.js';
export async function runSignerScenario(_ctx: ScenarioContext): Promise<Omit<SectionResult, 'name' | 'seconds'>> {
  throw new Error('not yet');
}

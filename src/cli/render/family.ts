/** How `storj family` shows an agent's family: text for a person, and the --json form (satoshis as JSON integers). */
import { satToJson } from '../../money/index.ts';
import type { Family } from '../client/parse-family.ts';
import type { Ui } from './ui.ts';

export function familyJson(f: Family): Record<string, unknown> {
  return {
    self: f.self,
    children: f.children.map((c) => ({
      ...c,
      revenueSat: satToJson(c.revenueSat),
      shareOwedSat: satToJson(c.shareOwedSat),
      sharePaidSat: satToJson(c.sharePaidSat),
    })),
  };
}

const short = (hex: string | null): string => (hex === null ? 'unknown' : `${hex.slice(0, 16)}…`);

export function showFamily(ui: Ui, f: Family): void {
  ui.say(`this agent    ${f.self.nodeId} at ${f.self.url}`);
  ui.say(`code hash     ${f.self.codeHash ?? 'unknown (no bundle)'}`);
  ui.say(`parent        ${f.self.parent ? `${f.self.parent.nodeId} at ${f.self.parent.url}` : 'none (a first generation)'}`);
  if (f.children.length === 0) {
    ui.say('children      none');
    return;
  }
  ui.say(`children      ${f.children.length}`);
  for (const c of f.children) {
    const clone = c.codeHash === null ? 'code unknown' : c.codeHash === f.self.codeHash ? 'clone' : `mutant ${short(c.codeHash)}`;
    ui.say(`  ${c.state.padEnd(11)} ${c.nodeId.slice(0, 16)}…  ${c.url}  since ${c.since}  ${clone}`);
    ui.say(`              proposal ${c.proposalId}  traffic ${(c.trafficShare * 100).toFixed(0)}%  revenue ${c.revenueSat} sat  share ${c.sharePaidSat} of ${c.shareOwedSat} sat paid`);
  }
}

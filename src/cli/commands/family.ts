/** `storj family`: the agent's own place in its family (its parent, if any) and its children, from GET /v1/family. */
import type { Command } from 'commander';
import { AgentApi, agentUrl } from '../client/api.ts';
import { parseFamily } from '../client/parse-family.ts';
import { familyJson, showFamily } from '../render/family.ts';
import { makeUi } from '../render/ui.ts';

export function registerFamilyCommands(program: Command, opts: { json: () => boolean }): void {
  program
    .command('family')
    .description("the agent's family: its code hash, its parent if it has one, and each child's state, URL and share owed")
    .option('--url <agentUrl>', 'the agent (default: STORJ_URL, else http://STORJ_LISTEN, else http://127.0.0.1:8420)')
    .action(async (o: { url?: string }) => {
      const ui = makeUi(opts.json());
      const f = parseFamily(await new AgentApi(agentUrl(o.url)).get('/v1/family'));
      showFamily(ui, f);
      ui.emit(familyJson(f));
    });
}

/**
 * Another program, for the tests of process files (a pid file or devnet.json naming a pid that is not the
 * child): a Node process on a free port that answers every HTTP request with `body`, so that it passes a probe
 * as the child would, and that any SIGTERM would end. Killed at the test's end.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Ctx } from './agent.ts';

export async function spawnBystander(t: Ctx, body: string) {
  const server = `const s=require('http').createServer((q,r)=>r.end(${JSON.stringify(body)}));s.listen(0,'127.0.0.1',()=>console.log(s.address().port))`;
  const child = spawn(process.execPath, ['-e', server], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const [port] = (await once(child.stdout, 'data')) as [Buffer];
  return { child, url: `http://127.0.0.1:${port.toString().trim()}`, pid: child.pid ?? 0 };
}

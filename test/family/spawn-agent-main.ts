// An agent process for test/family/spawn-restart.test.ts, which kills it with SIGKILL mid-spawn: `storj run` as
// the operator runs it, but with the test's user data (the lead wires the child's real one, renderUserData)
// and bundle hash. Its settings come from the environment (STORJ_*), as `storj run`'s do.
import { loadConfig } from '../../src/config/index.ts';
import { startAgent } from '../../src/agent/index.ts';
import { CODE_HASH, userDataFor } from './spawn-helpers.ts';

const config = loadConfig();
const agent = await startAgent({ config, passphrase: process.env.STORJ_PASSPHRASE ?? '', family: { userData: userDataFor([]), codeHash: () => CODE_HASH } });
process.stdout.write(`listening on ${agent.url}\n`);
process.on('SIGTERM', () => void agent.close().then(() => process.exit(0)));

/**
 * The local cloud (docs/local-cloud.md) beside the devnet: started with the agent when config `localCloud` is
 * set (by default with the embedded devnet, i.e. `npm start`), as its own process under `<dataDir>/cloud`,
 * watching the same chain, and stopped with the devnet.
 */
import { join } from 'node:path';
import type { Config } from '../config/index.ts';

export interface LocalCloud {
  url: string;
  /** Moves the cloud's clock forward with the agent's (POST /v1/dev/advance); its new time, or null when it is not running. */
  advance(seconds: number): Promise<number | null>;
}

/**
 * Reuses the cloud running for this data dir, or starts it on `config.cloudPort`, watching `esploraUrl`.
 * @param stop when `close` stops it: `always`, `if-started` by this call, or `never` (as the devnet's)
 * @throws AgentError DEVNET_START_FAILED when it does not start (its port taken, say)
 */
export async function startLocalCloud(config: Config, esploraUrl: string, stop: 'always' | 'if-started' | 'never'): Promise<{ cloud: LocalCloud; close(): Promise<void> }> {
  const dir = join(config.dataDir, 'cloud');
  // Loaded only here, as the devnet is: the agent on a real chain never needs it.
  const { advanceCloudClock, ensureCloudProcess, stopCloudProcess } = await import('../devnet/index.ts');
  const c = await ensureCloudProcess(dir, { esploraUrl, port: config.cloudPort, ...(config.cloudTamperedImage ? { tamperedImage: true } : {}) });
  const stopOnClose = stop === 'always' || (stop === 'if-started' && c.started);
  return {
    cloud: { url: c.url, advance: (seconds) => advanceCloudClock(dir, seconds) },
    close: async () => {
      if (stopOnClose) await stopCloudProcess(dir);
    },
  };
}

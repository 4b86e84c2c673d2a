// Every provider script in spawn-scripts/ (the list in test/spawn-scripts/providers.ts) loads in the sandbox and
// replays its own transcript: each call sends exactly the recorded requests and returns the recorded result.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadScript, parseTranscript, replayOf, sameJson, SandboxSession } from '../../src/sandbox/index.ts';
import { PROVIDERS, scriptPath } from '../spawn-scripts/providers.ts';
import { show } from './helpers.ts';

for (const c of PROVIDERS) {
  void test(`${c.script} replays ${c.transcript} in the sandbox`, async () => {
    const source = readFileSync(scriptPath(c.script), 'utf8');
    const parsed = parseTranscript(JSON.parse(readFileSync(scriptPath(c.transcript), 'utf8')));
    assert.ok(parsed.ok, show(parsed));
    const loaded = await loadScript(source);
    assert.ok(loaded.ok, show(loaded));
    assert.equal(loaded.meta.provider, parsed.transcript.provider);
    let clock = Date.UTC(2026, 0, 1);
    const opened = await SandboxSession.open({
      source,
      credentials: 'test-credential-not-real',
      now: () => clock,
      sleep: (ms) => {
        clock += ms;
        return Promise.resolve();
      },
    });
    assert.ok(opened.ok, show(opened));
    try {
      for (let i = 0; i < parsed.transcript.calls.length; i++) {
        const { call, args, transport, expected } = replayOf(parsed.transcript, i);
        const out = await opened.session.callJson(call, args, { transport });
        assert.ok(out.ok, `${call} (call ${i}): ${show(out)}`);
        if (expected !== undefined) assert.ok(sameJson(out.value, expected), `${call} (call ${i}) returned ${show(out.value)}, not ${show(expected)}`);
      }
    } finally {
      opened.session.close();
    }
  });
}

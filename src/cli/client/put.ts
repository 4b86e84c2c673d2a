/** The upload's PUT, streamed from disk on node:http, which fetch cannot do with a known Content-Length. */
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform, pipeline, type Duplex } from 'node:stream';
import { AgentError } from '../../errors/index.ts';
import { badResponse, IDLE_TIMEOUT_MS, MAX_JSON_BYTES, reason, remoteError, RemoteError } from './api.ts';

/**
 * PUTs a file to `url`, streamed from disk (never read into memory) with `Content-Length`, hashing the bytes
 * as they are sent so the agent's sha256 can be checked against exactly what went over the wire.
 * `onProgress` gets the bytes sent so far. `through`, when given, turns the file's bytes into those sent (the
 * encryption of `storj upload --encrypt`); `length` is then the length of what it makes.
 * @throws AgentError AGENT_UNREACHABLE when the connection fails or stalls; the error `through` fails with; RemoteError for an error answer.
 */
export function putFile(url: string, token: string, path: string, length: number, onProgress: (sent: number) => void, through?: Duplex): Promise<{ reply: unknown; sentSha256: string }> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  const hash = createHash('sha256');
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      sent += chunk.length;
      onProgress(sent);
      cb(null, chunk);
    },
  });
  return new Promise((resolve, reject) => {
    let done = false;
    let answered = false;
    const fail = (e: unknown) => {
      if (done) return;
      done = true;
      reject(e instanceof AgentError || e instanceof RemoteError ? e : new AgentError('AGENT_UNREACHABLE', `the upload to ${u.origin} failed (${reason(e)})`, undefined, { cause: e }));
    };
    const req = request(u, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-length': String(length), 'content-type': 'application/octet-stream', accept: 'application/json' },
    });
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new AgentError('AGENT_UNREACHABLE', `the upload to ${u.origin} stalled: nothing moved for ${IDLE_TIMEOUT_MS / 1000} s`)));
    req.on('response', (res: IncomingMessage) => {
      answered = true;
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_JSON_BYTES) res.destroy(badResponse('the answer to the upload is too large'));
        else chunks.push(c);
      });
      res.on('error', fail);
      res.on('end', () => {
        if (done) return;
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) return fail(remoteError(status, text));
        let reply: unknown;
        try {
          reply = JSON.parse(text);
        } catch {
          return fail(badResponse("the answer to the upload is not JSON"));
        }
        done = true;
        resolve({ reply, sentSha256: hash.digest('hex') });
      });
    });
    req.on('error', (e) => {
      // An agent that refuses early (a wrong token, a payment reversed meanwhile) may answer and close before it
      // has read the body: its answer, not the broken pipe, is what the user needs to see.
      if (!answered) setTimeout(() => { if (!answered) fail(e); }, 500);
    });
    pipeline([createReadStream(path), ...(through ? [through] : []), counter, req], (e) => {
      // A failure of this side's own (the file changed size under the encryption) is the answer: the agent's
      // refusal of the short body that follows would only hide it.
      if (e instanceof AgentError) fail(e);
      else if (e && !answered) setTimeout(() => { if (!answered) fail(e); }, 500);
    });
  });
}

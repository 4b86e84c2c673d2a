/**
 * The net module's only door: the one outbound HTTP client (./client.ts), its retry policy (./policy.ts),
 * its neutral error (./error.ts) and the scrubbing of credentials from what it and its callers repeat
 * (./scrub.ts). It depends on nothing else in src/, so every other module may use it.
 */
export { bodyText, HttpClient, type HttpClientOptions, type HttpRequest, type HttpResponse } from './client.ts';
export { isNetError, NetError } from './error.ts';
export { isRetryStatus } from './policy.ts';
export { printable } from './scrub.ts';

/**
 * The process supervisor's only door: the devnet, and later the sandbox runner, the local cloud and children,
 * run as supervised processes. The parent's side is `Supervisor` (start, probe, stop, adopt) for long-lived
 * children and `startWorker` for short-lived ones over IPC; the child's side is `announce`, `withdraw` and
 * `watchParent`.
 */
export { httpProbe, Supervisor, type ChildKind, type Waits } from './supervisor.ts';
export { announce, runMain, stopOnSignals, withdraw, watchParent } from './child.ts';
export { startWorker, type Worker } from './worker.ts';
export { isGone, signal } from './proc.ts';

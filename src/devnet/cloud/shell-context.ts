/** What the image's commands (src/devnet/cloud/commands.ts) are given to act on one server. */
export interface ShellContext {
  /** The server's root: its `/`. */
  root: string;
  tampered: boolean;
  /** A line for the server's console.log. */
  log(line: string): void;
  /** `systemctl enable --now UNIT`: starts the unit's ExecStart as the server's process. */
  startUnit(unit: string): void;
}

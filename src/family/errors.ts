/** The investors' error codes: proposals, and children's registrations. Registered in the one catalogue when this module loads (src/errors/index.ts). */
import { defineErrors, type CodesOf } from '../errors/index.ts';

const FAMILY_ERRORS = {
  PROPOSAL_BAD_SIGNATURE: { status: 400, description: 'The proposal\'s signature is not proposerKey\'s ed25519 signature over the canonical JSON of its other fields.' },
  PROPOSAL_BAD_PAYOUT: { status: 400, description: 'The payout address is malformed or belongs to another network than the agent\'s.' },
  PROPOSAL_INVESTMENT_TOO_LOW: { status: 400, description: 'The investment is below the quote\'s spawn cost plus one month.' },
  PROPOSAL_SCRIPT_TOO_LARGE: { status: 400, description: 'The provider script is larger than the agent accepts (config proposalScriptMaxBytes).' },
  PROPOSAL_BAD_HOST: { status: 400, description: 'A host is not a plain lowercase host or host:port (no scheme, path, user, wildcard or IPv6 literal).' },
  FAMILY_BAD_TICKET: { status: 401, description: 'A child registered with a spawn ticket the agent never issued, or one already used.' },
  FAMILY_BAD_SIGNATURE: { status: 400, description: 'A child\'s registration is not signed by the nodeId it names over the canonical JSON of its other fields.' },
  PROPOSAL_NOT_FOUND: { status: 404, description: 'No proposal has this id.' },
  FAMILY_BAD_SPAWN_SPEC: { status: 400, description: 'A spawn spec (the user data a parent renders for a child, the spawn file the child boots from) has a missing, unknown or malformed field.' },
} as const;
defineErrors('family', FAMILY_ERRORS);

declare module '../errors/index.ts' {
  interface ErrorCatalogue extends CodesOf<typeof FAMILY_ERRORS> {}
}

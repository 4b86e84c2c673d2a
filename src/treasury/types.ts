/** What an address the wallet hands out is for; shared by the treasury's door (index.ts) and its repository. */
export type AddressPurpose = 'receive' | 'change' | 'upload' | 'proposal';

// The sandbox's test customers, offered on the sandbox page: seeded at start, idempotently, with
// stable ids so that a TPP developer's tests can name their accounts.
import type { AccountType } from './bank.ts';
import type { PsuStore } from './psu/ports.ts';

interface PersonaSeed {
  username: string;
  displayName: string;
  accounts: { type: AccountType; name: string; iban: string; currency: string }[];
}

export const SANDBOX_PERSONAS: readonly PersonaSeed[] = [
  {
    username: 'alice',
    displayName: 'Alice Martin',
    accounts: [
      { type: 'current', name: 'Compte Chèques', iban: 'FR7630006000011234567890189', currency: 'EUR' },
      { type: 'savings', name: 'Livret A', iban: 'FR4030006000019876543210142', currency: 'EUR' },
      { type: 'card', name: 'Carte Visa Premier', iban: 'FR7330006000015555666677703', currency: 'EUR' },
    ],
  },
  {
    username: 'bruno',
    displayName: 'Bruno Dupont',
    accounts: [
      { type: 'current', name: 'Compte Joint', iban: 'FR7630004000031234567890143', currency: 'EUR' },
      { type: 'savings', name: 'Plan Épargne Logement', iban: 'FR9530004000037777888899911', currency: 'EUR' },
      { type: 'card', name: 'Carte Mastercard', iban: 'FR7830004000032222333344465', currency: 'EUR' },
    ],
  },
  {
    username: 'chloe',
    displayName: 'Chloé Bernard (EI)',
    accounts: [
      { type: 'current', name: 'Compte Professionnel', iban: 'FR7610107001011234567890129', currency: 'EUR' },
      { type: 'savings', name: 'Compte à terme', iban: 'FR4610107001019999000011127', currency: 'EUR' },
      { type: 'card', name: 'Carte Business', iban: 'FR6610107001014444555566638', currency: 'USD' },
    ],
  },
];

export const sandboxPsuId = (username: string) => `sandbox-${username}`;
export const sandboxAccountId = (username: string, type: AccountType) => `sandbox-${username}-${type}`;

/** Inserts the personas that are missing; existing ones (and what a developer added) stay. */
export async function seedSandboxPersonas(psus: PsuStore, now = Date.now()): Promise<void> {
  for (const [index, seed] of SANDBOX_PERSONAS.entries()) {
    if (await psus.findByUsername(seed.username)) continue;
    const psuId = sandboxPsuId(seed.username);
    try {
      await psus.insert(
        {
          psuId,
          username: seed.username,
          displayName: seed.displayName,
          passwordHash: null,
          totpSecret: null,
          status: 'active',
          sandbox: true,
          failedAttempts: 0,
          lockedUntil: null,
          lastTotpStep: null,
          // Ordered by creation: the first persona is the one preselected.
          createdAt: now + index,
        },
        seed.accounts.map((a) => ({ ...a, accountId: sandboxAccountId(seed.username, a.type), psuId })),
      );
    } catch (err) {
      // Two processes starting on one database: the other one seeded it first.
      if (!(await psus.findByUsername(seed.username))) throw err;
    }
  }
}

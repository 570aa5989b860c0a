// Entitle's errors, keyed by `extensions.code` (README: "Every GraphQL error
// has a stable extensions.code"). The UI shows a sentence chosen by the code
// and, under it, Entitle's own `errors[0].message`.

import type { CombinedError } from 'urql';

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'ENTITLEMENT_REQUIRED'
  | 'STRIPE_UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'INTERNAL'
  | 'NETWORK';

export interface AppError {
  code: ErrorCode | string;
  /** Entitle's `errors[0].message`, or the network failure. */
  message: string;
  extensions: Record<string, unknown>;
}

/** What the user was doing, for wording that fits. */
export type ErrorContext = 'login' | 'register' | 'checkout' | 'portal' | 'sync' | 'load' | 'reset' | 'verify';

export function toAppError(error: CombinedError): AppError {
  const first = error.graphQLErrors[0];
  if (first) {
    const extensions = (first.extensions ?? {}) as Record<string, unknown>;
    const code = typeof extensions['code'] === 'string' ? extensions['code'] : 'INTERNAL';
    return { code, message: first.message, extensions };
  }
  return {
    code: 'NETWORK',
    message: error.networkError?.message ?? error.message,
    extensions: {},
  };
}

export function headline(err: AppError, context: ErrorContext): string {
  switch (err.code) {
    case 'UNAUTHENTICATED':
      return context === 'login' ? 'Wrong email or password.' : 'Your session has ended. Please sign in again.';
    case 'FORBIDDEN':
      return 'You are not allowed to do that.';
    case 'BAD_USER_INPUT': {
      const field = err.extensions['field'];
      if (field === 'token' && (context === 'reset' || context === 'verify')) {
        return context === 'reset'
          ? 'This link has expired or was already used. Ask for a new one.'
          : 'This link has expired or was already used.';
      }
      return typeof field === 'string' ? `Please check the ${field}.` : 'Please check what you entered.';
    }
    case 'CONFLICT':
      if (context === 'register') return 'That email is already registered. Sign in instead.';
      if (context === 'checkout') return 'You already have a subscription: use “Manage billing” to change it.';
      return 'That conflicts with the current state.';
    case 'ENTITLEMENT_REQUIRED': {
      const plans = planList(err);
      return plans.length ? `Your plan does not include this. Available on: ${plans.join(', ')}.` : 'Your plan does not include this.';
    }
    case 'STRIPE_UNAVAILABLE':
      return 'Billing is unavailable for a moment. Please try again.';
    case 'RATE_LIMITED': {
      const wait = err.extensions['retryAfter'];
      return typeof wait === 'number' ? `Too many attempts. Try again in ${wait} s.` : 'Too many attempts. Try again shortly.';
    }
    case 'NETWORK':
      return 'Cannot reach Entitle. Check your connection and try again.';
    default:
      return 'Something went wrong on our side.';
  }
}

export function planList(err: AppError): string[] {
  const plans = err.extensions['plans'];
  return Array.isArray(plans) ? plans.filter((p): p is string => typeof p === 'string') : [];
}

export function isRetryable(err: AppError): boolean {
  return err.code === 'NETWORK' || err.code === 'RATE_LIMITED' || err.extensions['retryable'] === true;
}

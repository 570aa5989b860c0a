// Every operation the app sends. graphql-codegen (npm run codegen) reads
// these and types them from ../../schema.graphql into src/gql/.

import { graphql } from './gql';

export const RegisterDocument = graphql(`
  mutation Register($email: String!, $password: String!) {
    register(email: $email, password: $password) {
      ...AuthFields
    }
  }
`);

export const LoginDocument = graphql(`
  mutation Login($email: String!, $password: String!) {
    login(email: $email, password: $password) {
      ...AuthFields
    }
  }
`);

export const AccountDocument = graphql(`
  query Account {
    me {
      id
      email
      emailVerified
      createdAt
    }
    subscription {
      id
      status
      plan
      interval
      currentPeriodEnd
      cancelAtPeriodEnd
      cancelAt
      trialEnd
      grantsAccess
    }
    entitlements {
      plan
      features
      limits {
        name
        value
        unlimited
      }
    }
  }
`);

// Alone, because `usage` is non-null: its ENTITLEMENT_REQUIRED error would
// null the whole answer if it shared a query with the account.
export const UsageDocument = graphql(`
  query Usage {
    usage {
      periodStart
      periodEnd
      limits {
        name
        used
        limit
      }
    }
  }
`);

export const PlansDocument = graphql(`
  query Plans {
    plans {
      name
      features
      trialDays
      prices {
        interval
      }
    }
  }
`);

export const CreateCheckoutDocument = graphql(`
  mutation CreateCheckout($plan: String!, $interval: BillingInterval!, $successUrl: String!, $cancelUrl: String!) {
    createCheckout(plan: $plan, interval: $interval, successUrl: $successUrl, cancelUrl: $cancelUrl) {
      url
      sessionId
    }
  }
`);

export const CreatePortalDocument = graphql(`
  mutation CreatePortal($returnUrl: String!) {
    createPortal(returnUrl: $returnUrl) {
      url
    }
  }
`);

export const SyncCheckoutDocument = graphql(`
  mutation SyncCheckout($sessionId: String!) {
    syncCheckout(sessionId: $sessionId) {
      id
      status
      plan
      grantsAccess
    }
  }
`);

export const EntitlementsChangedDocument = graphql(`
  subscription EntitlementsChanged {
    entitlementsChanged {
      plan
      features
    }
  }
`);

// Account recovery: the links in Entitle's mails lead to /reset-password and
// /verify-email on ENTITLE_APP_URL, this app.
export const RequestPasswordResetDocument = graphql(`
  mutation RequestPasswordReset($email: String!) {
    requestPasswordReset(email: $email)
  }
`);

export const ResetPasswordDocument = graphql(`
  mutation ResetPassword($token: String!, $newPassword: String!) {
    resetPassword(token: $token, newPassword: $newPassword)
  }
`);

export const VerifyEmailDocument = graphql(`
  mutation VerifyEmail($token: String!) {
    verifyEmail(token: $token)
  }
`);

export const RequestEmailVerificationDocument = graphql(`
  mutation RequestEmailVerification {
    requestEmailVerification
  }
`);

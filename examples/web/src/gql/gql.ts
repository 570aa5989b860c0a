/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  mutation Register($email: String!, $password: String!) {\n    register(email: $email, password: $password) {\n      ...AuthFields\n    }\n  }\n": typeof types.RegisterDocument,
    "\n  mutation Login($email: String!, $password: String!) {\n    login(email: $email, password: $password) {\n      ...AuthFields\n    }\n  }\n": typeof types.LoginDocument,
    "\n  query Account {\n    me {\n      id\n      email\n      emailVerified\n      createdAt\n    }\n    subscription {\n      id\n      status\n      plan\n      interval\n      currentPeriodEnd\n      cancelAtPeriodEnd\n      cancelAt\n      trialEnd\n      grantsAccess\n    }\n    entitlements {\n      plan\n      features\n      limits {\n        name\n        value\n        unlimited\n      }\n    }\n  }\n": typeof types.AccountDocument,
    "\n  query Usage {\n    usage {\n      periodStart\n      periodEnd\n      limits {\n        name\n        used\n        limit\n      }\n    }\n  }\n": typeof types.UsageDocument,
    "\n  query Plans {\n    plans {\n      name\n      features\n      trialDays\n      prices {\n        interval\n      }\n    }\n  }\n": typeof types.PlansDocument,
    "\n  mutation CreateCheckout($plan: String!, $interval: BillingInterval!, $successUrl: String!, $cancelUrl: String!) {\n    createCheckout(plan: $plan, interval: $interval, successUrl: $successUrl, cancelUrl: $cancelUrl) {\n      url\n      sessionId\n    }\n  }\n": typeof types.CreateCheckoutDocument,
    "\n  mutation CreatePortal($returnUrl: String!) {\n    createPortal(returnUrl: $returnUrl) {\n      url\n    }\n  }\n": typeof types.CreatePortalDocument,
    "\n  mutation SyncCheckout($sessionId: String!) {\n    syncCheckout(sessionId: $sessionId) {\n      id\n      status\n      plan\n      grantsAccess\n    }\n  }\n": typeof types.SyncCheckoutDocument,
    "\n  subscription EntitlementsChanged {\n    entitlementsChanged {\n      plan\n      features\n    }\n  }\n": typeof types.EntitlementsChangedDocument,
    "\n  mutation RequestPasswordReset($email: String!) {\n    requestPasswordReset(email: $email)\n  }\n": typeof types.RequestPasswordResetDocument,
    "\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(token: $token, newPassword: $newPassword)\n  }\n": typeof types.ResetPasswordDocument,
    "\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(token: $token)\n  }\n": typeof types.VerifyEmailDocument,
    "\n  mutation RequestEmailVerification {\n    requestEmailVerification\n  }\n": typeof types.RequestEmailVerificationDocument,
    "\n  mutation Refresh($refreshToken: String!) {\n    refresh(refreshToken: $refreshToken) {\n      ...AuthFields\n    }\n  }\n": typeof types.RefreshDocument,
    "\n  mutation Logout($refreshToken: String!) {\n    logout(refreshToken: $refreshToken)\n  }\n": typeof types.LogoutDocument,
    "\n  fragment AuthFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresIn\n    user {\n      id\n      email\n    }\n  }\n": typeof types.AuthFieldsFragmentDoc,
};
const documents: Documents = {
    "\n  mutation Register($email: String!, $password: String!) {\n    register(email: $email, password: $password) {\n      ...AuthFields\n    }\n  }\n": types.RegisterDocument,
    "\n  mutation Login($email: String!, $password: String!) {\n    login(email: $email, password: $password) {\n      ...AuthFields\n    }\n  }\n": types.LoginDocument,
    "\n  query Account {\n    me {\n      id\n      email\n      emailVerified\n      createdAt\n    }\n    subscription {\n      id\n      status\n      plan\n      interval\n      currentPeriodEnd\n      cancelAtPeriodEnd\n      cancelAt\n      trialEnd\n      grantsAccess\n    }\n    entitlements {\n      plan\n      features\n      limits {\n        name\n        value\n        unlimited\n      }\n    }\n  }\n": types.AccountDocument,
    "\n  query Usage {\n    usage {\n      periodStart\n      periodEnd\n      limits {\n        name\n        used\n        limit\n      }\n    }\n  }\n": types.UsageDocument,
    "\n  query Plans {\n    plans {\n      name\n      features\n      trialDays\n      prices {\n        interval\n      }\n    }\n  }\n": types.PlansDocument,
    "\n  mutation CreateCheckout($plan: String!, $interval: BillingInterval!, $successUrl: String!, $cancelUrl: String!) {\n    createCheckout(plan: $plan, interval: $interval, successUrl: $successUrl, cancelUrl: $cancelUrl) {\n      url\n      sessionId\n    }\n  }\n": types.CreateCheckoutDocument,
    "\n  mutation CreatePortal($returnUrl: String!) {\n    createPortal(returnUrl: $returnUrl) {\n      url\n    }\n  }\n": types.CreatePortalDocument,
    "\n  mutation SyncCheckout($sessionId: String!) {\n    syncCheckout(sessionId: $sessionId) {\n      id\n      status\n      plan\n      grantsAccess\n    }\n  }\n": types.SyncCheckoutDocument,
    "\n  subscription EntitlementsChanged {\n    entitlementsChanged {\n      plan\n      features\n    }\n  }\n": types.EntitlementsChangedDocument,
    "\n  mutation RequestPasswordReset($email: String!) {\n    requestPasswordReset(email: $email)\n  }\n": types.RequestPasswordResetDocument,
    "\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(token: $token, newPassword: $newPassword)\n  }\n": types.ResetPasswordDocument,
    "\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(token: $token)\n  }\n": types.VerifyEmailDocument,
    "\n  mutation RequestEmailVerification {\n    requestEmailVerification\n  }\n": types.RequestEmailVerificationDocument,
    "\n  mutation Refresh($refreshToken: String!) {\n    refresh(refreshToken: $refreshToken) {\n      ...AuthFields\n    }\n  }\n": types.RefreshDocument,
    "\n  mutation Logout($refreshToken: String!) {\n    logout(refreshToken: $refreshToken)\n  }\n": types.LogoutDocument,
    "\n  fragment AuthFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresIn\n    user {\n      id\n      email\n    }\n  }\n": types.AuthFieldsFragmentDoc,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Register($email: String!, $password: String!) {\n    register(email: $email, password: $password) {\n      ...AuthFields\n    }\n  }\n"): (typeof documents)["\n  mutation Register($email: String!, $password: String!) {\n    register(email: $email, password: $password) {\n      ...AuthFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Login($email: String!, $password: String!) {\n    login(email: $email, password: $password) {\n      ...AuthFields\n    }\n  }\n"): (typeof documents)["\n  mutation Login($email: String!, $password: String!) {\n    login(email: $email, password: $password) {\n      ...AuthFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Account {\n    me {\n      id\n      email\n      emailVerified\n      createdAt\n    }\n    subscription {\n      id\n      status\n      plan\n      interval\n      currentPeriodEnd\n      cancelAtPeriodEnd\n      cancelAt\n      trialEnd\n      grantsAccess\n    }\n    entitlements {\n      plan\n      features\n      limits {\n        name\n        value\n        unlimited\n      }\n    }\n  }\n"): (typeof documents)["\n  query Account {\n    me {\n      id\n      email\n      emailVerified\n      createdAt\n    }\n    subscription {\n      id\n      status\n      plan\n      interval\n      currentPeriodEnd\n      cancelAtPeriodEnd\n      cancelAt\n      trialEnd\n      grantsAccess\n    }\n    entitlements {\n      plan\n      features\n      limits {\n        name\n        value\n        unlimited\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Usage {\n    usage {\n      periodStart\n      periodEnd\n      limits {\n        name\n        used\n        limit\n      }\n    }\n  }\n"): (typeof documents)["\n  query Usage {\n    usage {\n      periodStart\n      periodEnd\n      limits {\n        name\n        used\n        limit\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Plans {\n    plans {\n      name\n      features\n      trialDays\n      prices {\n        interval\n      }\n    }\n  }\n"): (typeof documents)["\n  query Plans {\n    plans {\n      name\n      features\n      trialDays\n      prices {\n        interval\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateCheckout($plan: String!, $interval: BillingInterval!, $successUrl: String!, $cancelUrl: String!) {\n    createCheckout(plan: $plan, interval: $interval, successUrl: $successUrl, cancelUrl: $cancelUrl) {\n      url\n      sessionId\n    }\n  }\n"): (typeof documents)["\n  mutation CreateCheckout($plan: String!, $interval: BillingInterval!, $successUrl: String!, $cancelUrl: String!) {\n    createCheckout(plan: $plan, interval: $interval, successUrl: $successUrl, cancelUrl: $cancelUrl) {\n      url\n      sessionId\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreatePortal($returnUrl: String!) {\n    createPortal(returnUrl: $returnUrl) {\n      url\n    }\n  }\n"): (typeof documents)["\n  mutation CreatePortal($returnUrl: String!) {\n    createPortal(returnUrl: $returnUrl) {\n      url\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SyncCheckout($sessionId: String!) {\n    syncCheckout(sessionId: $sessionId) {\n      id\n      status\n      plan\n      grantsAccess\n    }\n  }\n"): (typeof documents)["\n  mutation SyncCheckout($sessionId: String!) {\n    syncCheckout(sessionId: $sessionId) {\n      id\n      status\n      plan\n      grantsAccess\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription EntitlementsChanged {\n    entitlementsChanged {\n      plan\n      features\n    }\n  }\n"): (typeof documents)["\n  subscription EntitlementsChanged {\n    entitlementsChanged {\n      plan\n      features\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RequestPasswordReset($email: String!) {\n    requestPasswordReset(email: $email)\n  }\n"): (typeof documents)["\n  mutation RequestPasswordReset($email: String!) {\n    requestPasswordReset(email: $email)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(token: $token, newPassword: $newPassword)\n  }\n"): (typeof documents)["\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(token: $token, newPassword: $newPassword)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(token: $token)\n  }\n"): (typeof documents)["\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(token: $token)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RequestEmailVerification {\n    requestEmailVerification\n  }\n"): (typeof documents)["\n  mutation RequestEmailVerification {\n    requestEmailVerification\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Refresh($refreshToken: String!) {\n    refresh(refreshToken: $refreshToken) {\n      ...AuthFields\n    }\n  }\n"): (typeof documents)["\n  mutation Refresh($refreshToken: String!) {\n    refresh(refreshToken: $refreshToken) {\n      ...AuthFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Logout($refreshToken: String!) {\n    logout(refreshToken: $refreshToken)\n  }\n"): (typeof documents)["\n  mutation Logout($refreshToken: String!) {\n    logout(refreshToken: $refreshToken)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment AuthFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresIn\n    user {\n      id\n      email\n    }\n  }\n"): (typeof documents)["\n  fragment AuthFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresIn\n    user {\n      id\n      email\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;
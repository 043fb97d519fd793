// Accounts and sessions: plain services the routers call. See docs/auth.md for the design.
export { AccountService, displayNameSchema, emailSchema, requireAdmin } from './account.service.ts';
export type { AccountServiceOptions, ClientInfo, NewAccount, SignedIn } from './account.service.ts';
export { LoginThrottle, accountKey, ipKey, registrationKey } from './login-throttle.ts';
export type {
  AccountThrottlePolicy,
  IpThrottlePolicy,
  LoginThrottleOptions,
  RegistrationThrottlePolicy,
  ThrottledAttempt,
} from './login-throttle.ts';
export {
  ARGON2_PARAMS,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  checkPasswordPolicy,
  hashPassword,
  needsRehash,
  verifyPassword,
} from './password.ts';
export { USER_RECORD_COLUMNS, toUserRecord } from './records.ts';
export type { UserRecord } from './records.ts';
export {
  SESSION_COOKIE_NAME,
  SESSION_TOKEN_BYTES,
  SessionService,
  blankSessionCookie,
  readSessionToken,
  sessionCookie,
  sessionIdFromToken,
  systemClock,
} from './session.service.ts';
export type {
  Clock,
  Session,
  SessionClient,
  SessionCookieOptions,
  SessionServiceOptions,
  SessionValidation,
} from './session.service.ts';

export { AddressPolicy } from './address-policy.ts';
export { HostLimiter } from './host-limiter.ts';
export {
  DEFAULT_FETCH_POLICY,
  FetchError,
  type FetchDeps,
  type FetchErrorCode,
  type FetchPolicy,
  type FetchRequest,
  type FetchResult,
  type ResolvedAddress,
  safeFetch,
} from './safe-fetch.ts';

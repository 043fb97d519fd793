import { useState } from 'react';
import type { FormEvent } from 'react';
import { createLazyRoute, useRouter } from '@tanstack/react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTRPC, useTRPCClient } from '../trpc.ts';
import { sessionChanged, sessionQuery } from '../lib/session.ts';
import type { Me } from '../lib/session.ts';
import { ErrorMessage, Loading } from '../components/Feedback.tsx';
import { accountError } from '../lib/account-errors.ts';
import { formatBytes, formatDate, formatUsage, usageRatio } from '../lib/format.ts';
import { AccountPayments } from '../components/payments/AccountPayments.tsx';
import './account.css';

export const Route = createLazyRoute('/account')({ component: Account });

function Account() {
  const client = useTRPCClient();
  const session = useQuery(sessionQuery(client));
  if (session.isPending) return <Loading />;
  if (session.error)
    return (
      <section className="panel">
        <h1>Account</h1>
        <ErrorMessage error={session.error} onRetry={() => void session.refetch()} />
      </section>
    );
  return session.data ? <SignedIn me={session.data} /> : <SignedOut />;
}

/** A form's text field as a string (FormData gives File | string | null). */
function text(form: HTMLFormElement, name: string): string {
  const value = new FormData(form).get(name);
  return typeof value === 'string' ? value : '';
}

/** After signing in or up: forget the previous person's data, re-run the guards, go on. */
function useSignedIn() {
  const queryClient = useQueryClient();
  const router = useRouter();
  const { next } = Route.useSearch();
  return async () => {
    await sessionChanged(queryClient);
    await router.invalidate();
    if (next) await router.navigate({ href: next });
    else await router.navigate({ to: '/studio' });
  };
}

function SignedOut() {
  const trpc = useTRPC();
  const done = useSignedIn();
  const login = useMutation(trpc.auth.login.mutationOptions({ onSuccess: done }));
  const register = useMutation(trpc.auth.register.mutationOptions({ onSuccess: done }));
  const busy = login.isPending || register.isPending;

  const onLogin = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    register.reset();
    login.mutate({ email: text(form, 'email').trim(), password: text(form, 'password') });
  };
  const onRegister = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const email = text(form, 'email').trim();
    const displayName = text(form, 'displayName').trim() || email.split('@')[0] || email;
    login.reset();
    register.mutate({ email, password: text(form, 'password'), displayName });
  };

  return (
    <div className="account">
      <h1>Account</h1>
      <p className="hint">Sign in to style your photos, or create an account: it takes a few seconds.</p>
      <div className="account-forms">
        <form className="panel" aria-labelledby="signin-title" onSubmit={onLogin}>
          <h2 id="signin-title">Sign in</h2>
          <div className="field">
            <label htmlFor="signin-email">Email</label>
            <input id="signin-email" name="email" type="email" autoComplete="email" required />
          </div>
          <div className="field">
            <label htmlFor="signin-password">Password</label>
            <input
              id="signin-password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
            />
          </div>
          {login.error && <ErrorMessage error={accountError(login.error)} />}
          <button type="submit" className="primary" disabled={busy}>
            Sign in
          </button>
        </form>

        <form className="panel" aria-labelledby="signup-title" onSubmit={onRegister}>
          <h2 id="signup-title">Create an account</h2>
          <div className="field">
            <label htmlFor="signup-email">Email</label>
            <input id="signup-email" name="email" type="email" autoComplete="email" required />
          </div>
          <div className="field">
            <label htmlFor="signup-password">Password</label>
            <input
              id="signup-password"
              name="password"
              type="password"
              autoComplete="new-password"
              aria-describedby="signup-password-hint"
              required
            />
            <span id="signup-password-hint" className="hint">
              8 to 256 characters.
            </span>
          </div>
          <div className="field">
            <label htmlFor="signup-name">Your name (optional)</label>
            <input id="signup-name" name="displayName" type="text" autoComplete="name" maxLength={80} />
          </div>
          {register.error && <ErrorMessage error={accountError(register.error)} />}
          <button type="submit" className="primary" disabled={busy}>
            Create account
          </button>
        </form>
      </div>
    </div>
  );
}

function SignedIn({ me }: { me: Me }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const signedOut = async () => {
    await sessionChanged(queryClient);
    await router.invalidate();
  };
  const logout = useMutation(trpc.auth.logout.mutationOptions({ onSuccess: signedOut }));
  const everywhere = useMutation(trpc.auth.logoutEverywhere.mutationOptions({ onSuccess: signedOut }));

  return (
    <div className="account">
      <h1>Account</h1>
      <section className="panel" aria-labelledby="account-you">
        <h2 id="account-you">You</h2>
        <dl className="account-facts">
          <dt>Email</dt>
          <dd>{me.email}</dd>
          <dt>Name</dt>
          <dd>{me.displayName}</dd>
          <dt>Role</dt>
          <dd>{me.role === 'admin' ? 'Administrator' : 'User'}</dd>
          <dt>Member since</dt>
          <dd>
            <time dateTime={me.createdAt}>{formatDate(me.createdAt)}</time>
          </dd>
        </dl>
        <div className="account-actions">
          <button type="button" onClick={() => logout.mutate()} disabled={logout.isPending}>
            Sign out
          </button>
          <button
            type="button"
            className="danger"
            onClick={() => everywhere.mutate()}
            disabled={everywhere.isPending}
            aria-describedby="account-everywhere-hint"
          >
            Sign out everywhere
          </button>
        </div>
        <p id="account-everywhere-hint" className="hint">
          “Sign out everywhere” ends every session of your account, on every device, this one included.
        </p>
        {logout.error && <ErrorMessage error={logout.error} />}
        {everywhere.error && <ErrorMessage error={everywhere.error} />}
      </section>
      <QuotaSummary />
      <AccountPayments />
      <ChangePassword email={me.email} />
    </div>
  );
}

function QuotaSummary() {
  const trpc = useTRPC();
  const quota = useQuery(trpc.users.quota.queryOptions());
  return (
    <section className="panel" aria-labelledby="account-quota">
      <h2 id="account-quota">Your usage</h2>
      {quota.isPending && <Loading label="Loading your usage…" />}
      {quota.error && <ErrorMessage error={quota.error} onRetry={() => void quota.refetch()} />}
      {quota.data && (
        <ul className="account-quota">
          <UsageItem
            label="Storage"
            used={quota.data.usage.storedBytes}
            limit={quota.data.limits.storedBytes}
            format={formatBytes}
          />
          <UsageItem
            label="Renders in the last hour"
            used={quota.data.usage.jobsLastHour}
            limit={quota.data.limits.jobsPerHour}
          />
          <UsageItem
            label="Previews in the last minute"
            used={quota.data.usage.previewsLastMinute}
            limit={quota.data.limits.previewsPerMinute}
          />
        </ul>
      )}
    </section>
  );
}

function UsageItem({
  label,
  used,
  limit,
  format,
}: {
  label: string;
  used: number;
  limit: number;
  format?: (n: number) => string;
}) {
  const ratio = usageRatio(used, limit);
  return (
    <li>
      <span className="account-quota-label">{label}</span>
      <span className="account-quota-value">{formatUsage(used, limit, format)}</span>
      {ratio !== null && (
        <meter aria-label={label} min={0} max={1} low={0.7} high={0.9} optimum={0} value={ratio} />
      )}
    </li>
  );
}

function ChangePassword({ email }: { email: string }) {
  const trpc = useTRPC();
  const [done, setDone] = useState(false);
  const change = useMutation(trpc.auth.changePassword.mutationOptions());
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    setDone(false);
    change.mutate(
      { currentPassword: text(form, 'currentPassword'), newPassword: text(form, 'newPassword') },
      {
        onSuccess: () => {
          form.reset();
          setDone(true);
        },
      },
    );
  };
  return (
    <form className="panel" aria-labelledby="account-password" onSubmit={onSubmit}>
      <h2 id="account-password">Change password</h2>
      {/* Lets password managers tie the new password to the right account. */}
      <input type="email" name="username" autoComplete="username" value={email} readOnly hidden />
      <div className="field">
        <label htmlFor="password-current">Current password</label>
        <input
          id="password-current"
          name="currentPassword"
          type="password"
          autoComplete="current-password"
          required
        />
      </div>
      <div className="field">
        <label htmlFor="password-new">New password</label>
        <input
          id="password-new"
          name="newPassword"
          type="password"
          autoComplete="new-password"
          aria-describedby="password-new-hint"
          required
        />
        <span id="password-new-hint" className="hint">
          8 to 256 characters. Your other sessions end; this one stays signed in.
        </span>
      </div>
      {change.error && <ErrorMessage error={accountError(change.error)} />}
      <p role="status" className="success account-status">
        {done ? 'Your password is changed. Your other sessions have ended.' : ''}
      </p>
      <button type="submit" className="primary" disabled={change.isPending}>
        Change password
      </button>
    </form>
  );
}

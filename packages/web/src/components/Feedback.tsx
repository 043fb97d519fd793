import { Link } from '@tanstack/react-router';
import type { ErrorComponentProps } from '@tanstack/react-router';
import { messageOf } from '../lib/errors.ts';

/** A failure as a sentence, announced to screen readers. */
export function ErrorMessage({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  return (
    <div role="alert" className="error">
      <p>{messageOf(error)}</p>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** Shown while something loads, announced politely. */
export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p role="status" className="loading">
      {label}
    </p>
  );
}

/** A route that threw: the message and a way out, never a blank page. */
export function RouteError({ error, reset }: ErrorComponentProps) {
  return (
    <section className="panel">
      <h1>Something went wrong</h1>
      <ErrorMessage error={error} onRetry={reset} />
      <p>
        <Link to="/studio">Back to the studio</Link>
      </p>
    </section>
  );
}

export function NotFound() {
  return (
    <section className="panel">
      <h1>Page not found</h1>
      <p>There is nothing at this address.</p>
      <p>
        <Link to="/studio">Go to the studio</Link>
      </p>
    </section>
  );
}

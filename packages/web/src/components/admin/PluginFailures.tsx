import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../trpc.ts';
import { sentenceFor } from '../../lib/errors.ts';
import { ErrorMessage } from '../Feedback.tsx';

/**
 * The plugins this server skipped at start-up (`admin.pluginFailures`), each with its code and the
 * loader's message. Renders nothing when every plugin loaded: the panel is a warning, not a status.
 */
export function PluginFailures() {
  const trpc = useTRPC();
  const failures = useQuery(trpc.admin.pluginFailures.queryOptions());

  if (failures.error)
    return (
      <div>
        <p className="admin-error-context">Could not check for plugins that did not load:</p>
        <ErrorMessage error={failures.error} onRetry={() => void failures.refetch()} />
      </div>
    );
  if (!failures.data || failures.data.length === 0) return null;
  return (
    <section className="admin-failures" aria-labelledby="admin-plugin-failures">
      <h3 id="admin-plugin-failures">Plugins that did not load</h3>
      <p className="hint">
        The server skipped {failures.data.length === 1 ? 'this plugin' : 'these plugins'} at start-up; the
        others work. Fix or remove {failures.data.length === 1 ? 'it' : 'them'}, then restart the server.
      </p>
      <ul className="admin-failure-list">
        {failures.data.map((failure) => (
          <li key={`${failure.source} ${failure.plugin ?? ''}`}>
            <p className="admin-failure-name">
              <code>{failure.plugin ?? failure.source}</code>{' '}
              <span className="admin-failure-code">{failure.code}</span>
            </p>
            {sentenceFor(failure.code) && <p>{sentenceFor(failure.code)}</p>}
            <p className="admin-details">{failure.message}</p>
            {failure.plugin && <p className="admin-id hint">From {failure.source}</p>}
          </li>
        ))}
      </ul>
    </section>
  );
}

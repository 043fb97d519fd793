import { useState } from 'react';
import type { FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { AtelierOutputs } from '@atelier/client';
import { useTRPC } from '../../trpc.ts';
import { ErrorMessage, Loading } from '../Feedback.tsx';
import { formatDateTime } from '../../lib/format.ts';

type PluginCapabilities = AtelierOutputs['admin']['capabilities'][number];

/**
 * What plugins ask for beyond pixels (hosts, secrets), with a checkbox per item to grant or revoke
 * it, and the secrets store: names and dates only, and a write-only form. A plugin whose requests
 * are not all granted cannot be used (jobs are refused with CAPABILITY_NOT_GRANTED).
 */
export function CapabilitiesPanel() {
  const trpc = useTRPC();
  const capabilities = useQuery(trpc.admin.capabilities.queryOptions());
  return (
    <section className="admin-capabilities" aria-labelledby="admin-capabilities">
      <h3 id="admin-capabilities">Network and secrets</h3>
      <p className="hint">
        A plugin may reach only the hosts and read only the secrets it declares and you grant here. Until
        everything it asks for is granted, its jobs are refused.
      </p>
      {capabilities.isPending && <Loading label="Loading capabilities…" />}
      {capabilities.error && (
        <ErrorMessage error={capabilities.error} onRetry={() => void capabilities.refetch()} />
      )}
      {capabilities.data && capabilities.data.length === 0 && <p>No plugin asks for network or secrets.</p>}
      {capabilities.data?.map((plugin) => (
        <GrantForm key={`${plugin.id} ${plugin.grantedAt ?? ''}`} plugin={plugin} />
      ))}
      <SecretsForm />
    </section>
  );
}

function GrantForm({ plugin }: { plugin: PluginCapabilities }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [network, setNetwork] = useState<readonly string[]>(plugin.granted.network);
  const [secrets, setSecrets] = useState<readonly string[]>(plugin.granted.secrets);
  const save = useMutation(
    trpc.admin.setPluginGrants.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.admin.capabilities.queryKey() });
      },
    }),
  );
  const toggle = (list: readonly string[], item: string, on: boolean): readonly string[] =>
    on ? [...list, item] : list.filter((x) => x !== item);
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    save.mutate({ id: plugin.id, network: [...network], secrets: [...secrets] });
  };
  const idBase = `grant-${plugin.id.replace(/[^a-z0-9-]/g, '-')}`;
  const missing = plugin.missing.network.length + plugin.missing.secrets.length;
  return (
    <form className="admin-grant" onSubmit={onSubmit} aria-labelledby={`${idBase}-title`}>
      <p id={`${idBase}-title`} className="admin-grant-name">
        <strong>{plugin.name}</strong> <code>{plugin.id}</code>{' '}
        <span className={missing > 0 ? 'admin-grant-state warn' : 'admin-grant-state'}>
          {missing > 0 ? 'Not usable until granted' : 'Granted'}
        </span>
      </p>
      {plugin.requested.network.length > 0 && (
        <fieldset>
          <legend>Hosts it may reach</legend>
          {plugin.requested.network.map((host) => (
            <label key={host}>
              <input
                type="checkbox"
                checked={network.includes(host)}
                onChange={(e) => setNetwork(toggle(network, host, e.target.checked))}
              />{' '}
              <code>{host}</code>
            </label>
          ))}
        </fieldset>
      )}
      {plugin.requested.secrets.length > 0 && (
        <fieldset>
          <legend>Secrets it may read</legend>
          {plugin.requested.secrets.map((name) => (
            <label key={name}>
              <input
                type="checkbox"
                checked={secrets.includes(name)}
                onChange={(e) => setSecrets(toggle(secrets, name, e.target.checked))}
              />{' '}
              <code>{name}</code>
              {plugin.unsetSecrets.includes(name) && <span className="hint"> (no value stored yet)</span>}
            </label>
          ))}
        </fieldset>
      )}
      {save.error && <ErrorMessage error={save.error} />}
      <button type="submit" disabled={save.isPending}>
        {save.isPending ? 'Saving…' : 'Save grants'}
        <span className="visually-hidden"> of {plugin.name}</span>
      </button>
    </form>
  );
}

/** The secrets: a list of names (values are never sent to the browser) and a write-only form. */
function SecretsForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const secrets = useQuery(trpc.admin.secrets.queryOptions());
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const refresh = async () => {
    await queryClient.invalidateQueries({ queryKey: trpc.admin.secrets.queryKey() });
    await queryClient.invalidateQueries({ queryKey: trpc.admin.capabilities.queryKey() });
  };
  const store = useMutation(
    trpc.admin.setSecret.mutationOptions({
      onSuccess: async () => {
        setName('');
        setValue('');
        await refresh();
      },
    }),
  );
  const remove = useMutation(trpc.admin.removeSecret.mutationOptions({ onSuccess: refresh }));
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    store.mutate({ name: name.trim(), value });
  };
  return (
    <div className="admin-secrets">
      <h4>Secrets</h4>
      <p className="hint">
        Stored encrypted; nobody can read a value back, here or through the API. Setting a name again replaces
        its value.
      </p>
      {secrets.error && <ErrorMessage error={secrets.error} onRetry={() => void secrets.refetch()} />}
      {secrets.data && secrets.data.length > 0 && (
        <ul className="admin-secret-list">
          {secrets.data.map((secret) => (
            <li key={secret.name}>
              <code>{secret.name}</code>{' '}
              <span className="hint">updated {formatDateTime(secret.updatedAt)}</span>{' '}
              <button
                type="button"
                onClick={() => remove.mutate({ name: secret.name })}
                disabled={remove.isPending}
              >
                Remove<span className="visually-hidden"> {secret.name}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {remove.error && <ErrorMessage error={remove.error} />}
      <form onSubmit={onSubmit} className="admin-secret-form">
        <label>
          Name
          <input
            value={name}
            onChange={(e) => setName(e.target.value.toUpperCase())}
            pattern="[A-Z][A-Z0-9_]{0,63}"
            placeholder="OPENAI_API_KEY"
            required
            autoComplete="off"
            spellCheck={false}
          />
        </label>
        <label>
          Value
          <input
            type="password"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            required
            autoComplete="new-password"
          />
        </label>
        {store.error && <ErrorMessage error={store.error} />}
        <button type="submit" className="primary" disabled={store.isPending}>
          {store.isPending ? 'Storing…' : 'Store secret'}
        </button>
      </form>
    </div>
  );
}

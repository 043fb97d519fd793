import { useState } from 'react';
import type { FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { AtelierOutputs } from '@atelier/client';
import { useTRPC } from '../../trpc.ts';
import { ErrorMessage, Loading } from '../Feedback.tsx';
import { TableScroll } from './TableScroll.tsx';
import { SchemaForm } from '../SchemaForm.tsx';
import { Dialog } from './Dialog.tsx';
import { PluginFailures } from './PluginFailures.tsx';
import { CapabilitiesPanel } from './CapabilitiesPanel.tsx';

type Plugin = AtelierOutputs['admin']['plugins'][number];

/**
 * The plugins that did not load, if any; every plugin with its usage, an on/off switch that applies
 * at once, and its defaults' editor.
 */
export function PluginsSection() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const plugins = useQuery(trpc.admin.plugins.queryOptions());
  const [editing, setEditing] = useState<Plugin | null>(null);
  const [toggleError, setToggleError] = useState<{ name: string; error: unknown } | null>(null);

  const pluginsKey = trpc.admin.plugins.queryKey();
  const toggle = useMutation(
    trpc.admin.setPlugin.mutationOptions({
      onMutate: async (input) => {
        setToggleError(null);
        await queryClient.cancelQueries({ queryKey: pluginsKey });
        const previous = queryClient.getQueryData(pluginsKey);
        queryClient.setQueryData(pluginsKey, (old) =>
          old?.map((p) =>
            p.id === input.id && input.enabled !== undefined ? { ...p, enabled: input.enabled } : p,
          ),
        );
        return { previous };
      },
      onError: (error, input, context) => {
        if (context?.previous) queryClient.setQueryData(pluginsKey, context.previous);
        const name = context?.previous?.find((p) => p.id === input.id)?.name ?? input.id;
        setToggleError({ name, error });
      },
      onSettled: async () => {
        await queryClient.invalidateQueries({ queryKey: pluginsKey });
        // The studio's style list shows only enabled plugins.
        await queryClient.invalidateQueries({ queryKey: trpc.styles.list.queryKey() });
      },
    }),
  );

  return (
    <section className="panel" aria-labelledby="admin-plugins">
      <h2 id="admin-plugins">Plugins</h2>
      <p className="hint">
        Turning a plugin off or changing its defaults applies to every server within a second, without
        restarts.
      </p>
      <PluginFailures />
      <CapabilitiesPanel />
      {toggleError && (
        <div>
          <p className="admin-error-context">Could not change {toggleError.name}:</p>
          <ErrorMessage error={toggleError.error} />
        </div>
      )}
      {plugins.isPending && <Loading label="Loading plugins…" />}
      {plugins.error && <ErrorMessage error={plugins.error} onRetry={() => void plugins.refetch()} />}
      {plugins.data && plugins.data.length === 0 && <p>No plugins are installed.</p>}
      {plugins.data && plugins.data.length > 0 && (
        <TableScroll label="Installed plugins">
          <table className="admin-table">
            <caption className="visually-hidden">Installed plugins</caption>
            <thead>
              <tr>
                {/* The controls first: on a phone they are in view without scrolling sideways. */}
                <th scope="col">Name</th>
                <th scope="col">Enabled</th>
                <th scope="col">Defaults</th>
                <th scope="col">Id</th>
                <th scope="col">Version</th>
                <th scope="col">Kind</th>
                <th scope="col">Origin</th>
                <th scope="col" className="num">
                  Jobs
                </th>
              </tr>
            </thead>
            <tbody>
              {plugins.data.map((plugin) => (
                <tr key={plugin.id}>
                  <th scope="row">{plugin.name}</th>
                  <td>
                    <button
                      type="button"
                      role="switch"
                      aria-checked={plugin.enabled}
                      aria-label={`Enable ${plugin.name}`}
                      className="admin-switch"
                      onClick={() => toggle.mutate({ id: plugin.id, enabled: !plugin.enabled })}
                    >
                      <span className="admin-switch-track" aria-hidden="true" />
                      <span aria-hidden="true">{plugin.enabled ? 'On' : 'Off'}</span>
                    </button>
                  </td>
                  <td>
                    <button type="button" onClick={() => setEditing(plugin)}>
                      Edit defaults<span className="visually-hidden"> of {plugin.name}</span>
                    </button>
                  </td>
                  <td>
                    <code>{plugin.id}</code>
                  </td>
                  <td>{plugin.version}</td>
                  <td>{plugin.kind}</td>
                  <td>{plugin.builtin ? 'Built in' : 'Installed'}</td>
                  <td className="num">{plugin.jobs}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      {editing && <DefaultsEditor plugin={editing} onClose={() => setEditing(null)} />}
    </section>
  );
}

function DefaultsEditor({ plugin, onClose }: { plugin: Plugin; onClose: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // admin.plugins sends every plugin's schema, disabled ones included.
  const schema = plugin.paramsSchema;
  const [value, setValue] = useState<Record<string, unknown>>({ ...plugin.defaults });
  const save = useMutation(
    trpc.admin.setPlugin.mutationOptions({
      onSuccess: async (info) => {
        queryClient.setQueryData(trpc.admin.plugins.queryKey(), (old) =>
          old?.map((p) => (p.id === info.id ? { ...p, defaults: info.defaults, enabled: info.enabled } : p)),
        );
        await queryClient.invalidateQueries({ queryKey: trpc.styles.list.queryKey() });
        onClose();
      },
    }),
  );
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    save.mutate({ id: plugin.id, defaults: value });
  };
  return (
    <Dialog title={`Defaults of ${plugin.name}`} onClose={onClose}>
      <form onSubmit={onSubmit}>
        <p className="hint">New renders and previews start from these values.</p>
        <SchemaForm
          schema={schema}
          value={value}
          defaults={plugin.defaults}
          onChange={setValue}
          idPrefix={`defaults-${plugin.id}`}
          disabled={save.isPending}
          legend="Default parameters"
        />
        {save.error && <ErrorMessage error={save.error} />}
        <div className="admin-dialog-actions">
          <button type="submit" className="primary" disabled={save.isPending}>
            {save.isPending ? 'Saving…' : 'Save'}
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

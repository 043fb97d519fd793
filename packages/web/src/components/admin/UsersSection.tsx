import { useState } from 'react';
import { useRouter } from '@tanstack/react-router';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { AtelierOutputs } from '@atelier/client';
import { useTRPC, useTRPCClient } from '../../trpc.ts';
import { sessionChanged, sessionQuery } from '../../lib/session.ts';
import { formatDate } from '../../lib/format.ts';
import { ErrorMessage, Loading } from '../Feedback.tsx';
import { TableScroll } from './TableScroll.tsx';
import { Dialog } from './Dialog.tsx';
import { Pager } from './Pager.tsx';

type User = AtelierOutputs['admin']['users'][number];

const PAGE = 20;

/** Users, newest first, a page at a time: disable or enable them, give or take the admin role. */
export function UsersSection() {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const router = useRouter();
  const me = useQuery(sessionQuery(client)).data;
  const [offset, setOffset] = useState(0);
  // One more than a page: whether there is a next page, without a count endpoint.
  const users = useQuery({
    ...trpc.admin.users.queryOptions({ limit: PAGE + 1, offset }),
    placeholderData: keepPreviousData,
  });
  const rows = users.data?.slice(0, PAGE) ?? [];
  const hasNext = (users.data?.length ?? 0) > PAGE;

  const [failure, setFailure] = useState<{ what: string; error: unknown } | null>(null);
  const [confirming, setConfirming] = useState<User | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.admin.users.queryKey() });

  const setDisabled = useMutation(
    trpc.admin.setUserDisabled.mutationOptions({
      onMutate: () => setFailure(null),
      onError: (error, input) =>
        setFailure({ what: `${input.disabled ? 'disable' : 'enable'} ${emailOf(rows, input.id)}`, error }),
      onSettled: refresh,
    }),
  );
  const setRole = useMutation(
    trpc.admin.setUserRole.mutationOptions({
      onMutate: () => setFailure(null),
      onError: (error, input) =>
        setFailure({
          what:
            input.role === 'admin'
              ? `make ${emailOf(rows, input.id)} admin`
              : `remove admin from ${emailOf(rows, input.id)}`,
          error,
        }),
      onSuccess: async (result) => {
        setConfirming(null);
        // Your own role changed: the header and the guards must know.
        if (result.id === me?.id) {
          await sessionChanged(queryClient);
          await router.invalidate();
        }
      },
      onSettled: refresh,
    }),
  );
  const busy = setDisabled.isPending || setRole.isPending;

  return (
    <section className="panel" aria-labelledby="admin-users">
      <h2 id="admin-users">Users</h2>
      {failure && (
        <div>
          <p className="admin-error-context">Could not {failure.what}:</p>
          <ErrorMessage error={failure.error} />
        </div>
      )}
      {users.isPending && <Loading label="Loading users…" />}
      {users.error && <ErrorMessage error={users.error} onRetry={() => void users.refetch()} />}
      {users.data && rows.length === 0 && <p>{offset === 0 ? 'No users yet.' : 'No more users.'}</p>}
      {rows.length > 0 && (
        <TableScroll label="Users">
          <table className="admin-table" aria-busy={users.isFetching}>
            <caption className="visually-hidden">
              Users {offset + 1} to {offset + rows.length}, newest first
            </caption>
            <thead>
              <tr>
                {/* Who, what they are and what can be done first: in view on a phone. */}
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Actions</th>
                <th scope="col">Name</th>
                <th scope="col" className="num">
                  Jobs
                </th>
                <th scope="col">Joined</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((user) => (
                <tr key={user.id}>
                  <th scope="row" className="admin-email">
                    {user.email}
                    {user.id === me?.id && <span className="admin-badge"> (you)</span>}
                  </th>
                  <td>{user.role === 'admin' ? 'Administrator' : 'User'}</td>
                  <td>{user.disabled ? <span className="admin-disabled">Disabled</span> : 'Active'}</td>
                  <td>
                    <div className="admin-row-actions">
                      <button
                        type="button"
                        className={user.disabled ? undefined : 'danger'}
                        disabled={busy}
                        onClick={() => setDisabled.mutate({ id: user.id, disabled: !user.disabled })}
                      >
                        {user.disabled ? 'Enable' : 'Disable'}
                        <span className="visually-hidden"> {user.email}</span>
                      </button>
                      {user.role === 'admin' ? (
                        <button
                          type="button"
                          className="danger"
                          disabled={busy}
                          onClick={() => setConfirming(user)}
                        >
                          Remove admin<span className="visually-hidden"> from {user.email}</span>
                        </button>
                      ) : (
                        <button
                          type="button"
                          disabled={busy}
                          onClick={() => setRole.mutate({ id: user.id, role: 'admin' })}
                        >
                          Make<span className="visually-hidden"> {user.email}</span> admin
                        </button>
                      )}
                    </div>
                  </td>
                  <td>{user.displayName}</td>
                  <td className="num">{user.jobs}</td>
                  <td>
                    <time dateTime={user.createdAt}>{formatDate(user.createdAt)}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      <Pager
        noun="Users"
        first={offset + 1}
        count={rows.length}
        canPrevious={offset > 0}
        canNext={hasNext}
        onPrevious={() => setOffset(Math.max(0, offset - PAGE))}
        onNext={() => setOffset(offset + PAGE)}
      />
      {confirming && (
        <Dialog title={`Remove admin from ${confirming.email}?`} onClose={() => setConfirming(null)}>
          <p>
            {confirming.id === me?.id
              ? 'You will lose access to this console at once.'
              : `${confirming.email} will no longer reach the admin console.`}
          </p>
          {setRole.error && <ErrorMessage error={setRole.error} />}
          <div className="admin-dialog-actions">
            <button
              type="button"
              className="danger"
              disabled={setRole.isPending}
              onClick={() => setRole.mutate({ id: confirming.id, role: 'user' })}
            >
              Remove admin
            </button>
            <button type="button" onClick={() => setConfirming(null)}>
              Keep admin
            </button>
          </div>
        </Dialog>
      )}
    </section>
  );
}

function emailOf(rows: readonly User[], id: string): string {
  return rows.find((u) => u.id === id)?.email ?? 'this user';
}

import { useEffect, useId, useRef } from 'react';
import type { ReactNode } from 'react';
import { ErrorMessage } from '../Feedback.tsx';
import './gallery-parts.css';

export interface ConfirmDialogProps {
  readonly open: boolean;
  /** The question, also the dialog's accessible name ("Delete this result?"). */
  readonly title: string;
  readonly children?: ReactNode;
  readonly confirmLabel?: string;
  readonly cancelLabel?: string;
  readonly pending?: boolean;
  /** The failure of the confirmed action, shown inside the dialog. */
  readonly error?: unknown;
  readonly onConfirm: () => void;
  /** Called on "Keep it", Escape, or a click on the backdrop. */
  readonly onClose: () => void;
}

/**
 * A modal confirmation on the native <dialog>: the browser traps focus and closes it on Escape.
 * It opens with the safe choice focused and gives focus back to whatever opened it.
 */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel = 'Delete',
  cancelLabel = 'Keep it',
  pending = false,
  error,
  onConfirm,
  onClose,
}: ConfirmDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const bodyId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
      dialog.showModal();
      cancelRef.current?.focus();
      return () => {
        if (dialog.open) dialog.close();
        // The opener may be gone (the deleted item): focus only what is still on the page.
        if (opener?.isConnected) opener.focus();
      };
    }
    return undefined;
  }, [open]);
  return (
    <dialog
      ref={ref}
      className="confirm-dialog"
      aria-labelledby={titleId}
      aria-describedby={children ? bodyId : undefined}
      onCancel={(event) => {
        // Escape: let React state close it, so the effect's clean-up restores focus.
        event.preventDefault();
        if (!pending) onClose();
      }}
      onClick={(event) => {
        if (event.target === ref.current && !pending) onClose();
      }}
    >
      {open && (
        <>
          <h2 id={titleId}>{title}</h2>
          {children && (
            <div id={bodyId} className="confirm-dialog-body">
              {children}
            </div>
          )}
          {error !== undefined && error !== null && <ErrorMessage error={error} />}
          <div className="confirm-dialog-actions">
            <button type="button" ref={cancelRef} onClick={onClose} disabled={pending}>
              {cancelLabel}
            </button>
            <button type="button" className="danger" onClick={onConfirm} disabled={pending}>
              {pending ? 'Deleting…' : confirmLabel}
            </button>
          </div>
        </>
      )}
    </dialog>
  );
}

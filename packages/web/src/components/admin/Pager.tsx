/**
 * "Previous page · Things 21–40 · Next page" under an admin table, for offset and cursor pages
 * alike: the caller says where the page starts, how many rows it shows, and whether each way is open.
 */
export function Pager({
  noun,
  first,
  count,
  canPrevious,
  canNext,
  onPrevious,
  onNext,
}: {
  /** What the rows are, capitalised: "Users", "Payments". */
  noun: string;
  /** The 1-based number of the page's first row. */
  first: number;
  count: number;
  canPrevious: boolean;
  canNext: boolean;
  onPrevious: () => void;
  onNext: () => void;
}) {
  return (
    <div className="admin-pager">
      <button type="button" disabled={!canPrevious} onClick={onPrevious}>
        Previous page
      </button>
      <span>{count > 0 ? `${noun} ${first}–${first + count - 1}` : ''}</span>
      <button type="button" disabled={!canNext} onClick={onNext}>
        Next page
      </button>
    </div>
  );
}

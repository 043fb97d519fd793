const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether `id` can be a row id (every table's id is a uuid). Check ids that come from outside
 * before a query: anything else names no row, and Postgres would refuse it as a uuid instead.
 */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}

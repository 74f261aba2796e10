/**
 * One schema change. Migrations are applied in id order, each once, inside a
 * transaction, and recorded by id in schema_migrations — so concerns can add
 * theirs independently. Never edit an applied migration: add the next one.
 * Times are stored as integer milliseconds since the epoch (UTC).
 */
export interface Migration {
  /** Sortable and unique: "NNNN-what-it-does". */
  readonly id: string;
  readonly sql: string;
}

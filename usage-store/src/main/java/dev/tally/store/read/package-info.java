/**
 * The reading seam of the store: what meters, the SQL sandbox, exports and the verifier need to
 * read every tier, and nothing of how the store writes, seals or deletes.
 *
 * <p>{@link dev.tally.store.read.StoreReader} pins a {@link dev.tally.store.read.ReadView} (the
 * active and pending segments and the published parts, reference counted), reports read
 * failures, checks parts and tells listeners when a part is deleted. {@link
 * dev.tally.store.read.TierSql} is the one place that turns a view into SQL: the events of a
 * tenant between two times from the detail tier (parts and segments), and the hourly rollups.
 * The store's core ({@code dev.tally.store.internal}) implements these interfaces; code outside
 * the core reads through them only (an architecture test enforces it).
 */
package dev.tally.store.read;
